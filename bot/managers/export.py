"""The jobs as CSV for managers: one row per job, its answers in procedure order.

Written row by row as the jobs are read a batch at a time (`Reports.created`), so an export
of a year takes the memory of one batch.
"""

from __future__ import annotations

import csv
import html
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot.engine.catalog import Catalog
from bot.engine.plan import chosen_model
from bot.engine.procedure import Procedure
from bot.managers.periods import Period
from bot.managers.reports import JobRow, ReportData
from bot.texts import Texts

BASE_COLUMNS = (
    "job", "visit", "installer_user_id", "installer", "installer_username",
    "installer_account", "chat_id", "status", "stop_reason", "reopened_part", "cursor",
    "pending_step", "prompt_message_id", "created_at", "updated_at", "submitted_at",
    "closed_at", "reminded_at", "created_local", "submitted_local", "closed_local",
    "manufacturer", "model_name",
)
HANDOFF_COLUMNS = (
    "flags", "handoffs", "first_handed_off_at", "decision", "decided_at", "decided_by",
    "reason", "redo_part",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def answer_columns(procedure: Procedure, catalog: Catalog, present: set[str]) -> list[str]:
    """The answer columns, given the steps answered: every step in procedure order
    (checklist items in catalog order, answers to steps no longer declared at the end);
    secret steps are left out."""
    secret = {s.id for s in procedure.steps if s.secret}
    columns: list[str] = []
    for step in procedure.steps:
        if step.secret:
            continue
        if step.kind == "checklist":
            items = [f"{step.id}.{i}" for i in catalog.checklist_items]
            columns += [c for c in items if c in present]
            columns += sorted(k for k in present if k.startswith(f"{step.id}.")
                              and k not in items)
        else:
            columns.append(step.id)
    known = set(columns)
    columns += sorted(k for k in present if k not in known and k.split(".")[0] not in secret
                      and not any(k.startswith(f"{s.id}.") for s in procedure.steps
                                  if s.kind == "checklist"))
    return columns


def cell(value: Any) -> str:
    """A value as a CSV cell: text as is, numbers and booleans plainly, the rest as JSON.
    Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def column_title(column: str, texts: Texts | None) -> str:
    """A column's header in the texts' language (`export.column.*`, a step's label, a
    checklist item's text); its id without texts, or when none is known."""
    if texts is None:
        return column
    item = column.partition(".")[2]
    keys = ([f"checklist.{item}"] if item else
            [f"export.column.{column}", f"label.{column}", f"summary_report.step.{column}"])
    found = next((key for key in keys if texts.has(key)), None)
    return html.unescape(texts.get(found)) if found else column



async def write_jobs_csv(out: TextIO, batches: AsyncIterator[ReportData], present: set[str],
                         procedure: Procedure, catalog: Catalog, tz: ZoneInfo,
                         texts: Texts | None = None) -> int:
    """Write one row per job to `out` as the batches come, after the header; how many jobs.

    Each row: the job's columns (times in UTC, and the main ones also local to `tz`),
    installer, model, answers (`present`: the steps answered in any of the jobs; not the
    activation password, nor the `pending` answer awaiting a confirmation — only its step),
    flags and the latest hand-off. Columns added by later migrations come after the job's
    own (`extra`: the same for every row, read from the first). Headers are the columns'
    ids, or their titles in the language of `texts`."""
    columns = answer_columns(procedure, catalog, present)
    writer = csv.writer(out, lineterminator="\r\n")
    extra: list[str] | None = None
    count = 0

    def local(moment: datetime | None) -> str | None:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else None

    async for data in batches:
        for job in data.jobs.values():
            if extra is None:
                extra = sorted(job.extra)
                writer.writerow([column_title(c, texts) for c in
                                 (*BASE_COLUMNS, *extra, *columns, *HANDOFF_COLUMNS)])
            writer.writerow([cell(v) for v in _row(job, data, procedure, catalog, extra,
                                                   columns, local)])
            count += 1
    if extra is None:
        writer.writerow([column_title(c, texts) for c in
                         (*BASE_COLUMNS, *columns, *HANDOFF_COLUMNS)])
    return count


def _row(job: JobRow, data: ReportData, procedure: Procedure, catalog: Catalog,
         extra: list[str], columns: list[str],
         local: Callable[[datetime | None], str | None]) -> list[Any]:
    answers = data.answers.get(job.id, {})
    model = chosen_model(procedure, catalog, answers)
    handoffs = data.handoffs.get(job.id, [])
    last = handoffs[-1] if handoffs else None
    flags = "; ".join(f"{f.kind}@{f.step}" if f.step else f.kind
                      for f in data.flags.get(job.id, []))
    return [
        job.id, job.visit_id, job.installer_id, job.installer_name, job.installer_username,
        job.installer_account, job.chat_id, job.status, job.stop_reason, job.reopened_part,
        job.cursor, job.pending_step, job.prompt_message_id, job.created_at,
        job.updated_at, job.submitted_at, job.closed_at, job.reminded_at,
        local(job.created_at), local(job.submitted_at), local(job.closed_at),
        model.manufacturer if model else None, model.name if model else None,
        *(job.extra.get(k) for k in extra),
        *(answers[c].value if c in answers else None for c in columns),
        flags, len(handoffs), handoffs[0].created_at if handoffs else None,
        last.decision if last else None, last.decided_at if last else None,
        data.names.get(last.decided_by, last.decided_by) if last and last.decided_by
        else None,
        last.reason if last else None, last.redo_part if last else None,
    ]


def export_name(period: Period) -> str:
    """The export's file name."""
    return f"pinpoint-jobs-{period.first.isoformat()}-{period.last.isoformat()}.csv"

