"""A picture of the procedure: a Mermaid flowchart of its parts and steps, for `docs/`.

    python -m bot diagram                 write docs/procedure.md (from the project folder)
    python -m bot diagram --output -      print it instead

Each part is a subgraph; each step a box with its id, kind, answers and condition (`when`);
solid arrows follow the order, dashed ones an option that sends the installer back (`goto`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

from bot.engine.procedure import Procedure, Step

OUTPUT = Path("docs/procedure.md")
HEADER = """\
# The procedure

Generated from `data/procedure.toml` by `python -m bot diagram` (`./pinpoint diagram`); do
not edit it by hand: `tests/test_diagram.py` fails when it is stale.

Each box is a step: its id, its kind (with where a location comes from, or what a photo may
be read for), its answers (⚑ records a flag for support, ⛔ blocks the
step until the cause is fixed) and its condition (`when`: the step is skipped when it is
false). Solid arrows follow the order; dashed arrows are answers that go back to an earlier
step, whose answer is then asked again.
"""


def _quoted(text: str) -> str:
    """A Mermaid label in double quotes (its own quotes escaped)."""
    return '"' + text.replace('"', "#quot;") + '"'


def _label(step: Step) -> str:
    marks = [m for m, on in (("optional", step.optional), ("safety", step.safety)) if on]
    kind = step.kind + (f" ({step.source or step.reader})" if step.source or step.reader else "")
    lines = [f"<b>{step.id}</b>", " · ".join([kind, *marks])]
    if step.options:
        lines.append(" / ".join(
            o.id + (" ⚑" if o.flag else "") + (" ⛔" if o.block else "") for o in step.options
        ))
    if step.when:
        lines.append(f"when {step.when}")
    return "<br/>".join(lines)


def mermaid(procedure: Procedure, title: Callable[[str], str] = str) -> str:
    """The flowchart: one subgraph per part (`title(part)` names it), the steps in order."""
    lines = ["flowchart TD"]
    for number, part in enumerate(procedure.parts, 1):
        lines.append(f"    subgraph part_{part}[{_quoted(f'{number}. {title(part)}')}]")
        lines.append("        direction TB")
        lines += [f"        {s.id}[{_quoted(_label(s))}]" for s in procedure.steps
                  if s.part == part]
        lines.append("    end")
    lines += [f"    {a.id} --> {b.id}" for a, b in pairwise(procedure.steps)]
    lines += [f"    {s.id} -.->|{_quoted(o.id)}| {o.goto}"
              for s in procedure.steps for o in s.options if o.goto]
    return "\n".join(lines) + "\n"


def document(procedure: Procedure, title: Callable[[str], str] = str) -> str:
    """The Markdown page: what the picture shows, then the flowchart in a mermaid block."""
    return f"{HEADER}\n```mermaid\n{mermaid(procedure, title)}```\n"


def shipped_document() -> str:
    """The page for the shipped procedure, its parts named in English."""
    from bot.config import PROCEDURE_PATH, TEXTS_DIR
    from bot.engine.kinds import KINDS
    from bot.engine.validators import VALIDATORS
    from bot.texts import Texts

    texts = Texts(TEXTS_DIR)
    return document(Procedure.load(PROCEDURE_PATH, VALIDATORS, KINDS),
                    lambda part: texts.raw(f"part.{part}"))


def main(argv: list[str] | None = None) -> int:
    """`python -m bot diagram [--output PATH|-]`."""
    parser = argparse.ArgumentParser(prog="python -m bot diagram", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=str(OUTPUT),
                        help=f"the Markdown file to write, - for the terminal (default {OUTPUT})")
    args = parser.parse_args(argv)
    page = shipped_document()
    if args.output == "-":
        sys.stdout.write(page)
    else:
        Path(args.output).write_text(page, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
