"""Big data: a database of a million jobs, and the managers' summary and export timed on it.

The jobs are what the bot writes (jobs, answers to every step in procedure order, hand-offs
and support's decisions, flags, the audit trail with one `answer` entry per answer), spread
over working hours of about two and a half years up to `NOW`: most verified at the first
hand-off, some rejected and fixed, cancelled or stopped on an old firmware; the last day's
still open or waiting, and a few abandoned long ago. Bulk inserts, not the engine: the jobs,
hand-offs and the other audit entries from Python (`executemany`, PostgreSQL's `COPY`), the
answers and their audit entries by one `INSERT ... SELECT` per table from a per-job table
joined with the procedure's steps.

    python bench/bigdata.py generate [--jobs 1000000] [--db FILE | --url postgresql://...]
    python bench/bigdata.py time [--db FILE | --url ...] [--repeat 3] [--export] [--dump FILE]

The schema is migrated by the `bot` package on the path, so a checkout of an older revision
(on PYTHONPATH) times the code as it was: the "before" figures in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import json
import os
import random
import resource
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy.exc

from bot.config import DATA_DIR, PROCEDURE_PATH, Settings
from bot.engine.catalog import Catalog
from bot.engine.engine import Engine
from bot.engine.kinds import KINDS
from bot.engine.plan import chosen_model, current_slot
from bot.engine.plan import plan as plan_of
from bot.engine.procedure import Procedure
from bot.engine.validators import VALIDATORS
from bot.managers.periods import Period
from bot.managers.render import render_text
from bot.managers.summary import Summaries, Summary
from bot.services import load_texts
from bot.store import Answer, Store
from bot.texts import Texts

NOW = datetime(2026, 3, 31, 17, 0, tzinfo=UTC)
JOBS_PER_DAY = 1100
INSTALLERS = 120
SUPPORT = tuple(range(9001, 9011))
INSTALLER_IDS = tuple(range(100_001, 100_001 + INSTALLERS))
BATCH = 20_000
VALUES = {"confirm": "true", "photo": json.dumps({"photo": "AgACAgQAAx0", "w": 1600}),
          "location": json.dumps({"lat": 52.52, "lon": 13.405}), "model": "%MODEL%"}
TEXTS = {"firmware": "2.10.4", "iccid": "8949020000012345678", "mac": "00:1A:2B:3C:4D:5E",
         "password": "***", "serial": "SN-2231-0042", "station_name": "Depot 7 left"}


def iso(unix: float) -> str:
    """A Unix time as the store writes it."""
    return datetime.fromtimestamp(unix, UTC).isoformat()


def template(procedure: Procedure, catalog: Catalog) -> list[tuple[Any, ...]]:
    """Every answer a complete job gives, in order: (seq, step, value, source, offset in
    seconds from the job's start, action, detail, part)."""
    rows: list[tuple[Any, ...]] = []
    offset = 0
    rng = random.Random(7)
    for step in procedure.steps:
        if step.kind == "submit":
            continue
        keys = ([f"{step.id}.{i}" for i in catalog.default_checklist]
                if step.kind == "checklist" else [step.id])
        for key in keys:
            offset += rng.randrange(20, 120)
            if step.kind == "checklist":
                value = '"yes"'
            elif step.kind == "choice" and step.options:
                value = json.dumps(step.options[0].id)
            elif step.kind in VALUES:
                value = VALUES[step.kind]
            else:
                value = json.dumps(TEXTS.get(step.id, f"{step.id} text"))
            source = {"photo": "photo", "location": "gps", "text": "typed"}.get(
                step.kind, "button")
            shown = "%MODEL%" if step.kind == "model" else str(json.loads(
                value.replace("%MODEL%", '""')))
            action = "safety_confirmed" if step.safety else "answer"
            detail = json.dumps({"step": key, "value": shown, "source": source})
            rows.append((len(rows) + 1, key, value, source, offset, action, detail, step.part))
    return rows


class Loader:
    """Bulk writes into SQLite (sqlite3, no journal while loading) or PostgreSQL (asyncpg)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.pg: Any = None
        self.lite: sqlite3.Connection | None = None

    async def open(self) -> None:
        if self.target.startswith("postgres"):
            import asyncpg
            self.pg = await asyncpg.connect(self.target.replace("+asyncpg", ""))
        else:
            self.lite = sqlite3.connect(self.target.removeprefix("sqlite:///"))
            self.lite.execute("PRAGMA journal_mode=OFF")  # the store sets WAL when it opens
            self.lite.execute("PRAGMA synchronous=OFF")
            self.lite.execute("PRAGMA cache_size=-1000000")  # 1 GB: indexes built in memory

    async def close(self) -> None:
        if self.pg is not None:
            await self.pg.close()
        if self.lite is not None:
            self.lite.commit()
            self.lite.close()

    def at(self, unix_sql: str) -> str:
        """SQL for a Unix time (an integer expression) as the store's ISO text."""
        if self.pg is not None:
            return (f"to_char(to_timestamp({unix_sql}) AT TIME ZONE 'UTC', "
                    "'YYYY-MM-DD\"T\"HH24:MI:SS') || '+00:00'")
        return f"strftime('%Y-%m-%dT%H:%M:%S', {unix_sql}, 'unixepoch') || '+00:00'"

    async def drop_indexes(self, tables: Sequence[str]) -> list[str]:
        """Drop the secondary indexes of these tables (not their keys); the statements that
        create them again."""
        if self.pg is not None:
            found = [(r["indexname"], r["indexdef"]) for r in await self.pg.fetch(
                """SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY($1)
                   AND indexname NOT IN (SELECT conname FROM pg_constraint)""", list(tables))]
        else:
            assert self.lite is not None
            found = self.lite.execute(
                f"""SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
                    AND tbl_name IN ({','.join('?' * len(tables))})""", tables).fetchall()
        for name, _ in found:
            await self.sql(f"DROP INDEX {name}")
        return [create for _, create in found]

    async def sql(self, statement: str) -> None:
        if self.pg is not None:
            await self.pg.execute(statement)
        else:
            assert self.lite is not None
            self.lite.execute(statement)
            self.lite.commit()

    async def rows(self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
                   ) -> None:
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                await self._flush(table, columns, batch)
                batch = []
        if batch:
            await self._flush(table, columns, batch)

    async def _flush(self, table: str, columns: Sequence[str], batch: list[tuple[Any, ...]]
                     ) -> None:
        if self.pg is not None:
            await self.pg.copy_records_to_table(table, records=batch, columns=list(columns))
            return
        assert self.lite is not None
        marks = ",".join("?" * len(columns))
        self.lite.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})",
                              batch)
        self.lite.commit()


JOB_COLUMNS = ("id", "visit_id", "installer_id", "chat_id", "status", "prompt_message_id",
               "stop_reason", "created_at", "updated_at", "submitted_at", "closed_at",
               "reopened_part", "part_ends", "asked")
HANDOFF_COLUMNS = ("id", "job_id", "previous_id", "chat_id", "message_id", "created_at",
                   "decision", "decided_by", "decided_at", "reason", "redo_part", "posted_at",
                   "notified_at")
AUDIT_COLUMNS = ("at", "actor_id", "job_id", "action", "detail")
BIG_TABLES = ("visits", "jobs", "answers", "handoffs", "flags", "audit")


class Plan:
    """The jobs, hand-offs, flags and non-answer audit entries, made up job by job."""

    def __init__(self, jobs: int, steps: list[tuple[Any, ...]], models: list[str],
                 asking: Callable[[str, int], str | None]) -> None:
        self.n = jobs
        self.steps = steps
        self.models = models
        self.asking = asking  # the question after the first n answers, by model
        self.rng = random.Random(17)
        # Each part's last answer, as an offset (a complete job's part ends)
        self.part_ends = {s[7]: s[4] for s in steps}
        self.jobs: list[tuple[Any, ...]] = []
        self.base: list[tuple[Any, ...]] = []
        self.handoffs: list[tuple[Any, ...]] = []
        self.audit: list[tuple[Any, ...]] = []
        self.flags: list[tuple[Any, ...]] = []
        self._handoff_id = 0

    def make(self, first: int, count: int) -> None:
        """Jobs `first` to `first + count - 1` (ids from 1), replacing the previous batch."""
        self.jobs, self.base, self.handoffs, self.audit, self.flags = [], [], [], [], []
        days = -(-self.n // JOBS_PER_DAY)
        start = NOW.timestamp() - days * 86400
        for i in range(first, first + count):
            self._job(i, start)

    def _job(self, job_id: int, start: float) -> None:
        rng, full = self.rng, len(self.steps)
        day = (job_id - 1) // JOBS_PER_DAY
        t0 = int(start + day * 86400 + rng.randrange(0, 11 * 3600) - 3 * 3600)
        if t0 > NOW.timestamp() - 3600:
            t0 = int(NOW.timestamp()) - rng.randrange(3600, 8 * 3600)
        who = rng.choice(INSTALLER_IDS)
        speed = rng.randrange(60, 200)  # percent of the template's pace
        model = rng.choice(self.models)
        last_answer = t0 + self.steps[-1][4] * speed // 100
        roll = rng.random()
        recent = NOW.timestamp() - t0 < 12 * 3600
        fate = ("open" if roll < 0.4 else "waiting" if roll < 0.7 else "verified") if recent \
            else "abandoned" if roll < 0.0003 else "verified" if roll < 0.85 \
            else "rejected" if roll < 0.93 else "cancelled" if roll < 0.97 \
            else "stopped" if roll < 0.99 else "checklist"
        answered = full
        if fate in ("open", "abandoned", "cancelled"):
            answered = rng.randrange(3, full - 1)
            last_answer = t0 + self.steps[answered - 1][4] * speed // 100
        elif fate == "stopped":
            answered = next(s[0] for s in self.steps if s[1] == "firmware")
            last_answer = t0 + self.steps[answered - 1][4] * speed // 100
        self.base.append((job_id, t0, speed, answered, who, model))
        audit = self.audit
        audit.append((iso(t0), who, job_id, "job_created", json.dumps({"visit": job_id})))
        status, submitted, closed, updated = "open", None, None, last_answer
        reopened = stop_reason = part_ends = None
        if fate in ("cancelled", "stopped"):
            closed = updated = last_answer + rng.randrange(30, 600)
            status, stop_reason = fate, ("firmware_too_old" if fate == "stopped" else None)
            if fate == "stopped":
                self.flags.append((job_id, "firmware_too_old", "firmware", json.dumps(
                    {"version": "1.9.0", "minimum": "2.10.1"}), iso(last_answer)))
                audit.append((iso(last_answer), who, job_id, "flag", json.dumps(
                    {"kind": "firmware_too_old", "step": "firmware"})))
                self.flags.append((job_id, "firmware_too_old", None, "{}", iso(closed)))
            audit.append((iso(closed), who, job_id, fate, json.dumps({"reason": stop_reason})))
        elif fate not in ("open", "abandoned"):
            if fate == "checklist":
                self.flags.append((job_id, "checklist_failed", "checklist.signal",
                                   json.dumps({"item": "signal"}), iso(last_answer)))
            submitted = last_answer + rng.randrange(20, 120)
            part_ends = json.dumps({p: iso(t0 + offset * speed // 100)
                                    for p, offset in self.part_ends.items()})
            status, updated = "submitted", submitted
            decided = submitted + rng.randrange(300, 5400)
            previous = self._handoff(job_id, who, submitted, None if fate == "waiting" else (
                "rejected" if fate == "rejected" else "verified", decided), None)
            if fate == "rejected":
                reopened = "labels"
                fixed = decided + rng.randrange(3600, 20 * 3600)
                for seq in (17, 18):
                    audit.append((iso(fixed + seq), who, job_id, "answer",
                                  self.steps[seq - 1][6]))
                submitted = fixed + 120
                decided = submitted + rng.randrange(300, 5400)
                self._handoff(job_id, who, submitted, ("verified", decided), previous)
            if fate != "waiting":
                status, closed, updated = "verified", decided, decided
        self.jobs.append((job_id, job_id, who, who, status, 1000 + job_id, stop_reason,
                          iso(t0), iso(updated), submitted and iso(submitted),
                          closed and iso(closed), reopened, part_ends,
                          self.asking(model, answered)))

    def _handoff(self, job_id: int, who: int, at: int, decision: tuple[str, int] | None,
                 previous: int | None) -> int:
        self._handoff_id += 1
        hid = self._handoff_id
        decided_by = self.rng.choice(SUPPORT) if decision else None
        kind, when = decision or (None, None)
        reason, part = ("photo_unclear", "labels") if kind == "rejected" else (None, None)
        self.handoffs.append((hid, job_id, previous, -100, 5000 + hid, iso(at), kind,
                              decided_by, when and iso(when), reason, part, iso(at + 2),
                              when and iso(when + 2)))
        self.audit.append((iso(at), who, job_id, "submitted", "{}"))
        self.audit.append((iso(at + 1), None, job_id, "handed_off",
                           json.dumps({"handoff": hid, "pages": 0})))
        if decision:
            assert when is not None
            self.audit.append((iso(when), decided_by, job_id, kind, json.dumps(
                {"handoff": hid, "reason": reason, "part": part})))
        return hid


async def migrate(url: str) -> None:
    """Create the schema with the `bot` package on the path (its revisions)."""
    store = await Store.open(url)
    await store.close()


async def generate(url: str, jobs: int) -> None:
    """Fill an empty database with `jobs` jobs and everything around them."""
    began = time.perf_counter()
    await migrate(url)
    procedure, catalog = load_procedure()
    steps = template(procedure, catalog)
    loader = Loader(url)
    await loader.open()
    try:
        stamp = iso(NOW.timestamp() - 1000 * 86400)
        people = [(u, f"Installer{u % 1000}", "Field", f"inst{u}", f"INS-{u}", "approved")
                  for u in INSTALLER_IDS]
        people += [(u, f"Support{u % 100}", "Desk", None, None, "approved") for u in SUPPORT]
        await loader.rows("users", ("id", "first_name", "last_name", "username",
                                    "installer_id", "status", "created_at", "updated_at"),
                          [(*p, stamp, stamp) for p in people])
        await loader.rows("roles", ("user_id", "role", "granted_at"),
                          [(u, "installer", stamp) for u in INSTALLER_IDS]
                          + [(u, "support", stamp) for u in SUPPORT])
        await loader.sql("CREATE TABLE bigdata_steps (seq INTEGER, step TEXT, value TEXT, "
                         "source TEXT, offset_s INTEGER, action TEXT, detail TEXT)")
        await loader.rows("bigdata_steps", ("seq", "step", "value", "source", "offset_s",
                                            "action", "detail"), [s[:7] for s in steps])
        await loader.sql("CREATE TABLE bigdata_base (id BIGINT, t0 BIGINT, speed INTEGER, "
                         "answered INTEGER, installer BIGINT, model TEXT)")
        indexes = await loader.drop_indexes(BIG_TABLES)  # built once at the end: faster
        plan = Plan(jobs, steps, [m for m in catalog_models(catalog)],
                    functools.cache(lambda model, n: asked(procedure, catalog, steps[:n], model)))
        for first in range(1, jobs + 1, 100_000):
            plan.make(first, min(100_000, jobs + 1 - first))
            await loader.rows("visits", ("id", "installer_id", "started_at"),
                              [(j[0], j[2], j[7]) for j in plan.jobs])
            await loader.rows("jobs", JOB_COLUMNS, plan.jobs)
            await loader.rows("bigdata_base", ("id", "t0", "speed", "answered", "installer",
                                               "model"), plan.base)
            await loader.rows("handoffs", HANDOFF_COLUMNS, plan.handoffs)
            await loader.rows("flags", ("job_id", "kind", "step", "detail", "at"), plan.flags)
            await loader.rows("audit", AUDIT_COLUMNS, plan.audit)
            print(f"  {first + len(plan.jobs) - 1:>9} jobs  {time.perf_counter() - began:6.1f} s",
                  flush=True)
        when = loader.at("b.t0 + s.offset_s * b.speed / 100")
        joined = "FROM bigdata_base b JOIN bigdata_steps s ON s.seq <= b.answered"
        await loader.sql(f"""INSERT INTO answers (job_id, step, value, source, answered_at)
            SELECT b.id, s.step, REPLACE(s.value, '%MODEL%', '"' || b.model || '"'), s.source,
                   {when} {joined}""")
        print(f"  answers    {time.perf_counter() - began:6.1f} s", flush=True)
        await loader.sql(f"""INSERT INTO audit (at, actor_id, job_id, action, detail)
            SELECT {when}, b.installer, b.id, s.action, REPLACE(s.detail, '%MODEL%', b.model)
            {joined}""")
        print(f"  audit      {time.perf_counter() - began:6.1f} s", flush=True)
        await loader.sql("DROP TABLE bigdata_base")
        await loader.sql("DROP TABLE bigdata_steps")
        for create in indexes:
            await loader.sql(create)
        print(f"  indexes    {time.perf_counter() - began:6.1f} s", flush=True)
        await loader.sql("ANALYZE")
    finally:
        await loader.close()
    print(f"generated {jobs} jobs in {time.perf_counter() - began:.1f} s", flush=True)


def asked(procedure: Procedure, catalog: Catalog, steps: list[tuple[Any, ...]], model: str
          ) -> str | None:
    """The question the engine last sent a job with these answers (`jobs.asked`): the
    first of its plan without an answer."""
    moment = datetime.fromtimestamp(0, UTC)
    answers = {s[1]: Answer(s[1], json.loads(s[2].replace("%MODEL%", json.dumps(model))),
                            s[3], moment) for s in steps}
    chosen = chosen_model(procedure, catalog, answers)
    slots = plan_of(procedure, answers, chosen,
                 lambda step, chosen: KINDS[step.kind].slots(step, catalog, chosen))
    slot = current_slot(slots, answers, None)
    return slot.key if slot else None


def catalog_models(catalog: Catalog) -> list[str]:
    """The catalog's model ids."""
    return sorted(catalog._models)


def load_procedure() -> tuple[Procedure, Catalog]:
    procedure = Procedure.load(PROCEDURE_PATH, VALIDATORS, KINDS)
    catalog = Catalog.load(DATA_DIR / "catalog.toml", DATA_DIR / "checklists.toml")
    return procedure, catalog


class Sink(io.TextIOBase):
    """A text file that keeps nothing: counts what is written."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, text: str) -> int:
        self.size += len(text)
        return len(text)


async def timings(url: str, repeat: int, export: bool, dump: str | None = None) -> None:
    """The summary of a day and of a month (best of `repeat`, wall and CPU time: SQLite runs
    in this process, PostgreSQL's share is not counted); the export of a month. `dump`: a
    file to write each summary to in full (its `repr` and its message), to compare two
    versions of the code on the same database."""
    store = await Store.open(url)
    procedure, catalog = load_procedure()
    settings = Settings(_env_file=None, timezone="Europe/Berlin")  # type: ignore[call-arg]
    texts = load_texts(settings)
    engine = Engine(store, procedure, catalog, texts, settings)
    summaries = Summaries(store, engine.records, settings)
    last = date(2026, 3, 30)
    periods = {"day": Period.day(last, settings.tz),
               "month": Period(date(2026, 3, 1), last, settings.tz)}
    printed: list[str] = []
    cluster = await Cluster.of(store)
    try:
        for name, period in periods.items():
            walls, cpus, theirs = [], [], []
            for _ in range(repeat):
                began, used, served = time.perf_counter(), time.process_time(), cluster.cpu()
                summary = await summaries.compute(period, NOW)
                walls.append(time.perf_counter() - began)
                cpus.append(time.process_time() - used)
                theirs.append(cluster.cpu() - served)
            apart = (f", the cluster's {_ms(theirs)}" if cluster.postmaster else "")
            print(f"summary {name:5}: wall {_ms(walls)}, CPU {_ms(cpus)}{apart}  "
                  f"(best / median of {repeat}; load average {os.getloadavg()[0]:.1f})  "
                  f"started {summary.started}, "
                  f"verified {summary.verified}, waiting {len(summary.waiting)}, "
                  f"stuck {len(summary.stuck)}", flush=True)
            printed.append(in_full(name, summary, texts))
        if dump:
            with open(dump, "w", encoding="utf-8") as out:
                out.writelines(printed)
        if export:
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            began, used = time.perf_counter(), time.process_time()
            sink = Sink()
            try:
                count = await summaries.export_csv(periods["month"], sink)  # type: ignore
            except TypeError:  # the code before streaming: the whole text
                text, count = await summaries.export_csv(periods["month"])  # type: ignore
                sink.write(text)
            took, used = time.perf_counter() - began, time.process_time() - used
            grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss
            print(f"export month: {took:8.1f} s ({used:.1f} s of CPU)  {count} jobs, "
                  f"{sink.size / 1e6:.0f} MB of CSV, peak memory +{grown:.0f} MB")
    finally:
        await store.close()


def in_full(name: str, summary: Summary, texts: Texts) -> str:
    """A summary as a test or a comparison of two versions reads it: its `repr` (every figure
    and list, uncut) and its message."""
    return f"== {name}\n{summary!r}\n{render_text(summary, texts)}\n"


def _ms(seconds: list[float]) -> str:
    """The best and the median of some timings, in ms."""
    return f"{min(seconds) * 1000:.0f} / {statistics.median(seconds) * 1000:.0f} ms"


class Cluster:
    """The CPU time the PostgreSQL backends serving this database have used (the cluster's
    processes on this machine whose title names the database, from /proc; other databases'
    work left out); nothing on SQLite or for a cluster elsewhere."""

    def __init__(self, postmaster: int | None, database: str = "") -> None:
        self.postmaster = postmaster
        self.title = f" {database} ".encode()

    @classmethod
    async def of(cls, store: Store) -> Cluster:
        if store.dialect != "postgresql":
            return cls(None)
        try:
            row = await store.fetch_one("SELECT current_setting('data_directory') AS d, "
                                        "current_database() AS db")
            assert row is not None
            postmaster = int(Path(row["d"], "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, sqlalchemy.exc.DBAPIError):
            return cls(None)
        return cls(postmaster, row["db"])

    @property
    def pids(self) -> list[int]:
        """The backends serving the database now."""
        if self.postmaster is None:
            return []
        try:
            task = Path(f"/proc/{self.postmaster}/task/{self.postmaster}/children")
            children = [int(p) for p in task.read_text().split()]
        except OSError:
            return []
        found = []
        for pid in children:
            try:
                if self.title in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
            except OSError:
                continue
        return found

    def cpu(self) -> float:
        """Seconds of CPU (user and system) those backends have used so far."""
        total = 0
        for pid in self.pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("generate", "time"))
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--db", default="/tmp/pinpoint-bigdata.db", help="SQLite file")
    parser.add_argument("--url", help="postgresql://... (instead of --db)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--export", action="store_true", help="also time the month's CSV")
    parser.add_argument("--dump", help="write the summaries in full to this file")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{args.db}"
    if args.command == "generate":
        if not args.url and os.path.exists(args.db):
            sys.exit(f"{args.db} exists: remove it first")
        asyncio.run(generate(url, args.jobs))
    else:
        asyncio.run(timings(url, args.repeat, args.export, args.dump))


if __name__ == "__main__":
    main()
