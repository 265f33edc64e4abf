"""The record of a training run: ``history.json`` (per-step training logs, validation results) and
``curves.png`` (loss, train and validation PSNR against the step)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emoctl._files import atomic_path, atomic_write_bytes


def new_history() -> dict[str, Any]:
    """``{"train": [{step, loss, mse, dssim, alpha, offset, psnr, lr, samples_per_s}], "val": [{step, psnr,
    ssim, images, per_identity}]}``."""
    return {"train": [], "val": []}


def write_history(out_dir: str | Path, history: dict[str, Any]) -> None:
    """``history.json`` and ``curves.png`` in ``out_dir`` (each written atomically)."""
    out = Path(out_dir)
    atomic_write_bytes(out / "history.json", json.dumps(history, indent=1, sort_keys=True).encode())
    plot_curves(history, out / "curves.png")


def plot_curves(history: dict[str, Any], path: str | Path) -> None:
    """Loss (log scale) and PSNR (train, smoothed over 20 steps, and validation) against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, val = history["train"], history["val"]
    fig, (ax_loss, ax_psnr) = plt.subplots(1, 2, figsize=(10, 3.8))
    try:
        if train:
            steps = [r["step"] for r in train]
            ax_loss.plot(steps, [r["loss"] for r in train], lw=0.8, label="total")
            ax_loss.plot(steps, [r["mse"] for r in train], lw=0.8, label="mse")
            ax_loss.set_yscale("log")
            ax_psnr.plot(steps, _smooth([r["psnr"] for r in train], 20), lw=1, label="train (20-step mean)")
        if val:
            ax_psnr.plot([r["step"] for r in val], [r["psnr"] for r in val], "o-", label="validation")
        ax_loss.set(xlabel="step", ylabel="loss", title="training loss")
        ax_psnr.set(xlabel="step", ylabel="PSNR (dB)", title="PSNR")
        for ax in (ax_loss, ax_psnr):
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.legend()
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)


def _smooth(values: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out
