"""The procedure's picture in docs/ is generated, and kept current: regenerate to fix."""

from __future__ import annotations

from pathlib import Path

from bot.engine.diagram import document, mermaid, shipped_document
from bot.engine.procedure import Option, Procedure, Step

DOC = Path(__file__).resolve().parent.parent / "docs" / "procedure.md"


def test_docs_procedure_md_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == shipped_document(), (
        "docs/procedure.md is stale: run `./pinpoint diagram` and commit it")


def test_parts_are_subgraphs_steps_boxes_gotos_dashed() -> None:
    procedure = Procedure(("one", "two"), (
        Step("model", "one", "model"),
        Step("fine", "two", "choice", options=(Option("yes"), Option("no", goto="model"),
                                               Option("broken", flag="damaged", block=True))),
        Step("why", "two", "text", when="fine == no", optional=True),
    ))
    chart = mermaid(procedure, str.upper)
    assert chart.splitlines() == [
        "flowchart TD",
        '    subgraph part_one["1. ONE"]',
        "        direction TB",
        '        model["<b>model</b><br/>model"]',
        "    end",
        '    subgraph part_two["2. TWO"]',
        "        direction TB",
        '        fine["<b>fine</b><br/>choice<br/>yes / no / broken ⚑ ⛔"]',
        '        why["<b>why</b><br/>text · optional<br/>when fine == no"]',
        "    end",
        "    model --> fine",
        "    fine --> why",
        '    fine -.->|"no"| model',
    ]
    assert f"```mermaid\n{chart}```\n" in document(procedure, str.upper)
