"""Each part's end, recorded at a job's first submission: `jobs.part_ends`, JSON of part to
the time of its last answer until then (the audit trail's `answer` and `safety_confirmed`
entries), so the managers' summary reads one row a job instead of its whole trail.

The upgrade fills it in for every job submitted before, from the audit trail (steps mapped
to parts by the procedure, `data/procedure.toml`; steps it no longer has are left out).

Revision ID: 014
Revises: 013
"""

import tomllib

import sqlalchemy as sa
from alembic import op

from bot.config import PROCEDURE_PATH

revision = "014"
down_revision = "013"
branch_labels = None
depends_on = None

ANSWERS = "action IN ('answer', 'safety_confirmed')"


def _parts() -> dict[str, str]:
    """Each step id's part."""
    with PROCEDURE_PATH.open("rb") as f:
        return {s["id"]: s["part"] for s in tomllib.load(f).get("step", [])}


def upgrade() -> None:
    op.add_column("jobs", sa.Column("part_ends", sa.Text))
    parts = _parts()
    if not parts:
        return
    binds = {f"s{i}": s for i, s in enumerate(parts)} | {
        f"p{i}": p for i, p in enumerate(parts.values())}
    cases = " ".join(f"WHEN :s{i} THEN :p{i}" for i in range(len(parts)))
    submissions = ("jobs.submitted_at",
                   "(SELECT MIN(at) FROM audit WHERE job_id = jobs.id AND action = 'submitted')",
                   "(SELECT MIN(created_at) FROM handoffs WHERE job_id = jobs.id)")
    if op.get_bind().dialect.name == "postgresql":
        first = f"LEAST({', '.join(submissions)})"
        prefix = "split_part(CAST(detail AS json) ->> 'step', '.', 1)"
        pack = "COALESCE(CAST(json_object_agg(part, at) AS text), '{}')"
    else:  # SQLite's two-argument-or-more min() is NULL when one is: each takes the others'
        a, b, c = submissions
        first = f"min(COALESCE({a}, {b}, {c}), COALESCE({b}, {c}, {a}), COALESCE({c}, {a}, {b}))"
        step = "(json_extract(detail, '$.step') || '.')"
        prefix = f"substr({step}, 1, instr({step}, '.') - 1)"
        pack = "json_group_object(part, at)"
    op.execute(sa.text(f"""
        UPDATE jobs SET part_ends = (
            SELECT {pack} FROM (
                SELECT part, MAX(at) AS at FROM (
                    SELECT CASE {prefix} {cases} END AS part, at FROM audit
                    WHERE job_id = jobs.id AND {ANSWERS} AND at <= {first}
                ) AS answered WHERE part IS NOT NULL GROUP BY part
            ) AS ends)
        WHERE {first} IS NOT NULL""").bindparams(**binds))


def downgrade() -> None:
    op.drop_column("jobs", "part_ends")
