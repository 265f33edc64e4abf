"""Figures for the demo: plots (matplotlib, imported lazily) and labelled image strips."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emoctl.media import save_png, to_uint8

METHOD_COLOURS = {"no modulation": "#9e9e9e", "offset by target": "#f0c060", "offset by pair": "#e69f00", "modulator": "#0072b2"}


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the demo's plots need matplotlib: pip install 'emoctl[demo]'") from e
    return plt


def loss_plot(history: Sequence[dict], path: Path) -> Path:
    """Training curves (parameter MSE and vertex MSE, log scale) against the step."""
    plt = _pyplot()
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=110)
    ax.plot(steps, _smooth([h["param"] for h in history]), label="parameter MSE", color="#0072b2")
    if "vertex_mm2" in history[0]:
        ax2 = ax.twinx()
        ax2.plot(steps, _smooth([h["vertex_mm2"] for h in history]), label="vertex MSE (mm²)", color="#d55e00")
        ax2.set_yscale("log")
        ax2.set_ylabel("vertex MSE (mm²)", color="#d55e00")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("parameter MSE", color="#0072b2")
    ax.set_title("Geometry branch: training loss")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def error_plot(metrics: dict, path: Path) -> Path:
    """Held-out vertex error per target emotion for each method (grouped bars)."""
    plt = _pyplot()
    per = metrics["per_target"]
    emotions = list(per)
    methods = list(next(iter(per.values())))
    x = np.arange(len(emotions))
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(7, 3.4), dpi=110)
    for i, m in enumerate(methods):
        ax.bar(x + (i - (len(methods) - 1) / 2) * width, [per[e][m] for e in emotions], width,
               label=f"{m} ({metrics['methods'][m]['vertex_mm']:.2f} mm)", color=METHOD_COLOURS.get(m))
    ax.set_xticks(x, emotions)
    ax.set_ylabel("mean vertex error (mm)")
    ax.set_title("Held-out anchors: retargeting error by target emotion")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def labelled_rows(rows: Sequence[tuple[str, Sequence[np.ndarray]]], column_labels: Sequence[str], path: Path,
                  pad: int = 4) -> Path:
    """A grid of equally sized images ``[H, W, 3]``: column labels on top, row labels on the left."""
    from PIL import Image, ImageDraw, ImageFont

    cells = [[to_uint8(im) for im in images] for _, images in rows]
    h, w = cells[0][0].shape[:2]
    font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def text_size(text: str) -> tuple[int, int]:
        left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
        return right - left, bottom - top

    row_w = max((text_size(label)[0] for label, _ in rows), default=0) + (2 * pad if any(lbl for lbl, _ in rows) else 0)
    col_h = max(text_size(label)[1] for label in column_labels) + 2 * pad
    col_w = max(w, max(text_size(label)[0] for label in column_labels) + pad)
    canvas = Image.new("RGB", (row_w + len(column_labels) * (col_w + pad) + pad, col_h + len(rows) * (h + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for c, label in enumerate(column_labels):
        x0 = row_w + pad + c * (col_w + pad)
        draw.text((x0 + (col_w - text_size(label)[0]) // 2, pad), label, fill="black", font=font)
    for r, ((label, _), images) in enumerate(zip(rows, cells)):
        y0 = col_h + r * (h + pad)
        draw.text((pad, y0 + (h - text_size(label)[1]) // 2), label, fill="black", font=font)
        for c, image in enumerate(images):
            canvas.paste(Image.fromarray(image), (row_w + pad + c * (col_w + pad) + (col_w - w) // 2, y0))
    return save_png(np.asarray(canvas), path)


def _smooth(values: Sequence[float], k: int = 9) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if len(v) < k:
        return v
    kernel = np.ones(k) / k
    padded = np.concatenate([np.full(k // 2, v[0]), v, np.full(k - 1 - k // 2, v[-1])])
    return np.convolve(padded, kernel, mode="valid")
