"""The statistics chart: appointments by state and busiest hours, as PNG bytes.

matplotlib on its Agg backend (no display), through the object API (a Figure per call, no
pyplot global state), so it is safe to run in a worker thread. Imported on first use: start-up
does not pay for it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence


def render_chart(
    title: str,
    states_title: str,
    states: Sequence[tuple[str, int]],
    hours_title: str,
    hours: Sequence[int],
    hours_label: str,
) -> bytes:
    """Two bar charts side by side; labels are plain text (not HTML)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
    names = [name for name, _ in states] or ["—"]
    counts = [count for _, count in states] or [0]
    left.barh(names, counts, color="#4a7bd0")
    left.invert_yaxis()
    left.set_title(states_title)
    left.xaxis.get_major_locator().set_params(integer=True)
    for index, count in enumerate(counts):
        left.annotate(
            str(count),
            (count, index),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    right.bar(range(24), list(hours), color="#e0803a")
    right.set_xticks(range(0, 24, 2))
    right.set_xlim(-0.6, 23.6)
    right.set_title(hours_title)
    right.set_xlabel(hours_label)
    right.yaxis.get_major_locator().set_params(integer=True)
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
