"""Tiny modulators and checkpoint surgery shared by the Hub hardening tests."""

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from emoctl import EmotionModulators
from emoctl._files import sha256_file

TINY = dict(emotions=3, token_dim=8, emotion_dim=8, expression_dim=10, geometry_dim=8, geometry_layers=1,
            geometry_heads=2, geometry_tokens=1, appearance_tokens=1)


def tiny(value: float = 1.0, **overrides) -> EmotionModulators:
    """Tiny modulators whose every parameter equals ``value`` (so a loaded copy names its writer)."""
    mods = EmotionModulators(**{**TINY, **overrides})
    with torch.no_grad():
        for p in mods.parameters():
            p.fill_(value)
    return mods


def writer_of(folder) -> float:
    """Load ``folder`` and return the single value all its parameters hold (fails on a mix)."""
    mods = EmotionModulators.from_pretrained(folder)
    values = {float(v) for p in mods.parameters() for v in p.detach().flatten().unique()}
    assert len(values) == 1, f"parameters from several saves: {sorted(values)}"
    return values.pop()


def edit_config(folder: Path, **changes) -> None:
    """Rewrite ``config.json`` with ``changes`` (a value of ``...`` deletes the key)."""
    config = json.loads((folder / "config.json").read_text())
    for key, value in changes.items():
        if value is ...:
            config.pop(key, None)
        else:
            config[key] = value
    (folder / "config.json").write_text(json.dumps(config))


def edit_weights(folder: Path, **tensors) -> None:
    """Replace or add tensors in ``model.safetensors`` (``None`` drops one) and record the new
    file's SHA-256, as a deliberately crafted checkpoint would."""
    state = load_file(folder / "model.safetensors")
    for key, value in tensors.items():
        key = key.replace("__", ".")
        if value is None:
            state.pop(key)
        else:
            state[key] = value
    save_file(state, folder / "model.safetensors")
    edit_config(folder, weights_sha256=sha256_file(folder / "model.safetensors"))
