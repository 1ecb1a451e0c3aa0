"""Reports over big databases, without timing anything: the summary reads through indexes
(SQLite's query plans), every figure it prints stays the same when its queries change, and
the CSV export's memory does not grow with the jobs exported.

The databases come from the big-data benchmark's generator (bench/bigdata.py), small.
"""

from __future__ import annotations

import hashlib
import re
import sys
import tracemalloc
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.managers import reports
from bot.managers.periods import Period
from bot.managers.summary import Summaries
from bot.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bigdata

# A full read of a big table: a SCAN of it (or of the audit's alias), or every job created
# before the period's end.
FULL_READ = re.compile(r"^SCAN (jobs|audit|answers|handoffs|a)\b|jobs_created \(created_at<")


async def _summaries(store: Store) -> Summaries:
    procedure, catalog = bigdata.load_procedure()
    settings = Settings(_env_file=None, timezone="Europe/Berlin")  # type: ignore[call-arg]
    engine = bigdata.Engine(store, procedure, catalog, bigdata.load_texts(settings), settings)
    return Summaries(store, engine.records, settings)


async def test_the_summary_reads_through_indexes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    await bigdata.generate(url, 3000)
    store = await Store.open(url)
    statements: list[tuple[str, Any]] = []
    read = store.fetch_all

    async def recorded(sql: str, params: Any = ()) -> Any:
        statements.append((sql, params))
        return await read(sql, params)

    store.fetch_all = recorded  # type: ignore[method-assign]
    try:
        summaries = await _summaries(store)
        tz = summaries.settings.tz
        for period in (Period.day(date(2026, 3, 30), tz),
                       Period(date(2026, 3, 1), date(2026, 3, 30), tz)):
            summary = await summaries.compute(period, bigdata.NOW)
            assert summary.started and summary.per_part and summary.waiting
        store.fetch_all = read  # type: ignore[method-assign]
        assert len(statements) >= 8
        for sql, params in statements:
            plan = [r["detail"] for r in await store.fetch_all(f"EXPLAIN QUERY PLAN {sql}",
                                                               params)]
            assert not [line for line in plan if FULL_READ.search(line)], (sql, plan)
    finally:
        await store.close()


# Each summary of a generated database of 3,000 jobs in full (`bigdata.in_full`: its `repr`
# and its message), as the code before the summary's aggregates moved into SQL printed it.
# A change here must be one the summary means to make: compare the full texts before and
# after with `python bench/bigdata.py time --dump FILE` (or `in_full` on this database).
PRINTED = {
    "30 Mar": "829caec18f400d1d",
    "31 Mar": "06c280f642cbc65c",
    "week": "4c3ce878aa0792ef",
    "1-30 Mar": "862b112ce1679c7c",
}


@pytest.mark.both_stores
async def test_the_summaries_print_what_they_printed(database_url: str) -> None:
    await bigdata.generate(database_url, 3000)
    store = await Store.open(database_url)
    try:
        summaries = await _summaries(store)
        tz, texts = summaries.settings.tz, bigdata.load_texts(summaries.settings)
        periods = {"30 Mar": Period.day(date(2026, 3, 30), tz),
                   "31 Mar": Period.day(date(2026, 3, 31), tz),  # as of NOW, inside it
                   "week": Period.week(date(2026, 3, 31), tz),
                   "1-30 Mar": Period(date(2026, 3, 1), date(2026, 3, 30), tz)}
        printed = {}
        for name, period in periods.items():
            text = bigdata.in_full(name, await summaries.compute(period, bigdata.NOW), texts)
            printed[name] = hashlib.sha256(text.encode()).hexdigest()[:16]
        assert printed == PRINTED
    finally:
        await store.close()


async def _export_peak(url: str, period: Period) -> tuple[int, int]:
    """Rows exported and the export's peak of traced memory (after a warm-up export)."""
    store = await Store.open(url)
    try:
        summaries = await _summaries(store)
        await summaries.export_csv(period, bigdata.Sink())
        tracemalloc.start()
        try:
            count = await summaries.export_csv(period, bigdata.Sink())
            return count, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        await store.close()


async def test_the_export_streams_in_constant_memory(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = 40
    monkeypatch.setattr(reports, "BATCH", jobs // 2)  # two batches held at most: one written,
    tz = Settings(_env_file=None, timezone="Europe/Berlin").tz  # type: ignore[call-arg]
    everything = Period(date(2020, 1, 1), date(2026, 3, 31), tz)
    peaks = []  # the next one read
    for n in (jobs, jobs * 10):
        url = f"sqlite:///{tmp_path / f'big{n}.db'}"
        await bigdata.generate(url, n)
        count, peak = await _export_peak(url, everything)
        assert count == n
        peaks.append(peak)
    assert peaks[1] < peaks[0] * 1.5, peaks  # ten times the rows, not ten times the memory
