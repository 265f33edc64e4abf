"""Per-Gaussian attribute heads shared by the reference backbones (offset, colour, opacity, scale,
rotation), with the activations that keep each attribute in range."""

from __future__ import annotations

import torch
from torch import Tensor, nn

#: Output channels of each head.
HEAD_CHANNELS = {"offset": 3, "color": 3, "opacity": 1, "scale": 3, "rotation": 4}


class GaussianHeads(nn.Module):
    """Features ``[..., N, width]`` → attributes of ``N`` Gaussians.

    - ``offsets = max_offset * tanh(.)`` (m, in the binding's frame);
    - ``colors = sigmoid(.)``; ``opacities = sigmoid(. + 2)`` (starts near 0.88);
    - ``scales = base_scale * exp(scale_range * tanh(.))`` with ``base_scale [N]`` (or a scalar);
    - ``quats``: identity + the head's output (normalised by the rasterizer).

    The output layers start at zero (offsets 0, colours 0.5, local rotations identity, scales
    ``base_scale``), so a fresh backbone renders its template."""

    def __init__(self, width: int, max_offset: float, scale_range: float = 1.0):
        super().__init__()
        self.max_offset = float(max_offset)
        self.scale_range = float(scale_range)
        self.heads = nn.ModuleDict({name: nn.Linear(width, c) for name, c in HEAD_CHANNELS.items()})
        for head in self.heads.values():
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, features: Tensor, base_scale: Tensor | float) -> dict[str, Tensor]:
        out = {name: head(features) for name, head in self.heads.items()}
        identity = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=features.dtype, device=features.device)
        return {
            "offsets": self.max_offset * torch.tanh(out["offset"]),
            "colors": torch.sigmoid(out["color"]),
            "opacities": torch.sigmoid(out["opacity"][..., 0] + 2.0),
            "scales": torch.as_tensor(base_scale, dtype=features.dtype, device=features.device)[..., None]
            * torch.exp(self.scale_range * torch.tanh(out["scale"])),
            "quats": identity + out["rotation"],
        }
