"""The Hub model card (``README.md``) written with every checkpoint."""

from __future__ import annotations

from torch import nn


def render_model_card(modulators: nn.Module) -> str:
    """A Hub model card (YAML front matter + usage) for the modulators."""
    cfg = modulators.config
    n_params = sum(p.numel() for p in modulators.parameters())
    rows = "\n".join(f"| `{k}` | `{v}` |" for k, v in cfg.to_dict().items() if k not in ("format", "format_version"))
    adapter = cfg.adapter or "none (standalone)"
    return f"""---
library_name: emoctl
tags:
- emoctl
- emotion-control
- gaussian-splatting
- head-avatar
---

# emoctl emotion modulators

Emotion modulators (emotion embedding, geometry modulator, appearance modulator) for a
feed-forward 3D Gaussian head-avatar backbone, made with [emoctl](https://pypi.org/project/emoctl/).
Only the added modules are stored here ({n_params:,} parameters); the backbone's own weights are not.

- backbone adapter: `{adapter}`
- emotions: {", ".join(cfg.emotions)} (the first is the all-zero neutral label)

## Use

```python
import emoctl
ctl = emoctl.wrap(backbone, emotions={list(cfg.emotions)!r})
ctl.load_pretrained("<this repo id or folder>")
with ctl.emotion("happy"):
    out = backbone.infer_single_view(...)
```

The geometry branch alone (retargeting a FLAME expression + jaw sequence) needs no backbone:

```python
mods = emoctl.EmotionModulators.from_pretrained("<this repo id or folder>")
flame_params = mods.retarget(flame_params, "sad")
```

## Configuration

| key | value |
|---|---|
{rows}
"""
