"""Plots for Dagster asset metadata: PNG files (matplotlib, headless) inlined as markdown."""

from __future__ import annotations

import base64
from pathlib import Path


def pyplot():
    """matplotlib's pyplot on the file-only backend: assets run without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar_charts_png(panels: dict[str, list[tuple]], path: Path, title: str) -> Path:
    """One horizontal bar chart per panel of (label, count) rows, side by side, as a PNG."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), dpi=100, squeeze=False)
    for ax, (name, rows) in zip(axes[0], panels.items()):
        labels = ["(none)" if label is None else str(label) for label, _ in rows][::-1]
        ax.barh(labels, [count for _, count in rows][::-1])
        ax.set_title(name)
        ax.set_xlabel("parties")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


def image_markdown(path: Path, alt: str) -> str:
    """An inline image for Dagster's markdown metadata (a data URI: no file server needed)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(path.read_bytes()).decode('ascii')})"
