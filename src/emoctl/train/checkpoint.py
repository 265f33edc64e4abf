"""The training checkpoint, ``OUT/checkpoint/state.pt``: everything a resumed run needs to continue
exactly as an uninterrupted one would.

Held: the model's and optimizer's state dicts, the LR scheduler's, torch's and Python's RNG states,
the next step (the data order is a pure function of ``(seed, step)``, so ``{seed, step}`` *is* its
state), the training config, the history and the wall time so far. Written with
:func:`emoctl._files.atomic_write_bytes` (a kill mid-write leaves the previous checkpoint) and read
with ``torch.load(weights_only=True)`` (tensors, numbers, strings and containers only: no code).
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import torch

from emoctl._files import atomic_write_bytes
from emoctl.backbones.hub import SKIPPED_PREFIXES, saved_state
from emoctl.errors import CheckpointError

CHECKPOINT_FILE = Path("checkpoint") / "state.pt"
FORMAT = "emoctl-backbone-training-checkpoint"


def checkpoint_path(out_dir: str | Path) -> Path:
    return Path(out_dir) / CHECKPOINT_FILE


def save_checkpoint(out_dir: str | Path, *, model, optimizer, scheduler, step: int, config: dict[str, Any],
                    history: dict[str, Any], elapsed: float) -> Path:
    """Write the state after ``step`` optimiser steps (``step`` is the next step to run)."""
    state = {
        "format": FORMAT,
        "step": int(step),
        "model": saved_state(model),  # the head template is rebuilt from the config
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "python_rng": random.getstate(),
        "data_order": {"seed": int(config["seed"]), "step": int(step)},
        "config": json.dumps(config, sort_keys=True),
        "history": json.dumps(history, sort_keys=True),
        "elapsed": float(elapsed),
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write_bytes(checkpoint_path(out_dir), buffer.getvalue())


def load_checkpoint(out_dir: str | Path) -> dict[str, Any] | None:
    """The checkpoint of ``out_dir`` (``config`` and ``history`` decoded), or None when there is none."""
    path = checkpoint_path(out_dir)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise CheckpointError(f"{path} is not an emoctl backbone training checkpoint")
        state["config"] = json.loads(state["config"])
        state["history"] = json.loads(state["history"])
    except CheckpointError:
        raise
    except Exception as exc:  # a truncated or foreign file: torch raises many kinds
        raise CheckpointError(f"{path} cannot be read as a training checkpoint ({type(exc).__name__}: {exc})") from None
    return state


def restore_model(model, state: dict[str, Any]) -> None:
    """Load the checkpoint's model tensors (every tensor but the rebuilt template must be there)."""
    missing, unexpected = model.load_state_dict(state["model"], strict=False)
    missing = [k for k in missing if not k.startswith(SKIPPED_PREFIXES)]
    if missing or unexpected:
        raise CheckpointError(f"the checkpoint does not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}")


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch_rng"])
    version, internal, gauss = state["python_rng"]
    random.setstate((version, tuple(internal), gauss))
