"""The summary's picture: jobs per installer by state, and time per part of the procedure.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global
figure state), sized for a phone held upright. Rendering is serialised by a lock: it runs
in worker threads and matplotlib's font and text caches are shared.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# Okabe–Ito colours, distinguishable with the common colour-vision deficiencies.
COLORS = {
    "verified": "#009E73", "waiting": "#E69F00", "to_fix": "#D55E00",
    "in_progress": "#0072B2", "stuck": "#CC79A7", "cancelled": "#BBBBBB", "stopped": "#777777",
}
MEDIAN_COLOR, LONGEST_COLOR = "#0072B2", "#9DC3E6"
WIDTH_IN, DPI = 7.0, 160
NAME_MAX = 22
_LOCK = threading.Lock()


@dataclass(frozen=True)
class ChartData:
    """What to draw, with every label already in the managers' language.

    `states`: (legend label, state key, one count per installer), in stacking order.
    """

    title: str
    jobs_title: str
    installers: list[str]
    states: list[tuple[str, str, list[int]]]
    parts_title: str
    parts: list[str]
    median_min: list[float]
    longest_min: list[float]
    median_label: str
    longest_label: str
    minutes_label: str


def _plain(label: str, limit: int = NAME_MAX) -> str:
    """A label safe from mathtext (`$`) and short enough for the axis."""
    label = " ".join(label.split())
    if len(label) > limit:
        label = label[: limit - 1] + "…"
    return label.replace("$", r"\$")


def draw(data: ChartData) -> bytes:
    """The chart as PNG bytes."""
    with _LOCK:
        return _draw(data)


def _draw(data: ChartData) -> bytes:
    rows = max(len(data.installers), 1)
    has_parts = any(data.median_min) or any(data.longest_min)
    top_h = 1.1 + 0.42 * rows
    bottom_h = 1.2 + 0.42 * len(data.parts) if has_parts else 0.0
    fig = Figure(figsize=(WIDTH_IN, top_h + bottom_h + 0.5), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(_plain(data.title, 60), fontsize=13, fontweight="bold")
    if has_parts:
        top, bottom = fig.subplots(2, 1, height_ratios=[top_h, bottom_h])
    else:
        top, bottom = fig.subplots(1, 1), None

    names = [_plain(n) for n in data.installers]
    positions = list(range(len(names)))
    left = [0] * len(names)
    for label, key, counts in data.states:
        bars = top.barh(positions, counts, left=left, color=COLORS.get(key, "#999999"),
                        label=_plain(label, 30), height=0.6, edgecolor="white", linewidth=0.8)
        top.bar_label(bars, labels=[str(c) if c else "" for c in counts], label_type="center",
                      fontsize=9, color="white", fontweight="bold")
        left = [a + b for a, b in zip(left, counts, strict=True)]
    top.set_yticks(positions, names)
    top.invert_yaxis()
    top.set_title(_plain(data.jobs_title, 60), fontsize=11, loc="left")
    top.xaxis.get_major_locator().set_params(integer=True)
    top.set_xlim(0, max([*left, 1]) * 1.05)
    top.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 if rows > 2 else -0.25),
               ncol=min(4, max(len(data.states), 1)), fontsize=8, frameon=False)
    _tidy(top)

    if bottom is not None:
        spots = list(range(len(data.parts)))
        bottom.barh(spots, data.longest_min, color=LONGEST_COLOR, height=0.7,
                    label=_plain(data.longest_label, 30))
        bars = bottom.barh(spots, data.median_min, color=MEDIAN_COLOR, height=0.4,
                           label=_plain(data.median_label, 30))
        bottom.bar_label(bars, labels=[f"{m:.0f}" for m in data.median_min], padding=3,
                         fontsize=8)
        bottom.set_yticks(spots, [_plain(p, 26) for p in data.parts])
        bottom.invert_yaxis()
        bottom.set_title(_plain(data.parts_title, 60), fontsize=11, loc="left")
        bottom.set_xlabel(_plain(data.minutes_label, 30), fontsize=9)
        bottom.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=8,
                      frameon=False)
        _tidy(bottom)

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _tidy(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
