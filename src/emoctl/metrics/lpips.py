"""LPIPS (Zhang et al. 2018, v0.1, AlexNet) from weight files already on disk; nothing is downloaded.

The paper reports LPIPS for image fidelity (section 4.2.1). LPIPS compares deep features:

    d(x, y) = sum_l mean_{h,w} w_l . (phi_l(x)_hw / |phi_l(x)_hw| - phi_l(y)_hw / |phi_l(y)_hw|)^2

with ``phi_l`` the five ReLU outputs of AlexNet's convolutional trunk on inputs scaled to [-1, 1]
(then shifted/scaled by LPIPS' fixed input statistics), ``|.|`` the norm over channels and ``w_l``
non-negative learnt channel weights. emoctl implements the network itself (plain torch, no
``lpips``/``torchvision`` dependency) and loads two files the user provides:

- ``linear``: the LPIPS v0.1 linear-layer weights, ``alex.pth`` inside the ``lpips`` package
  (``pip download lpips --no-deps``, unzip, ``lpips/weights/v0.1/alex.pth``); tensors
  ``lin0.model.1.weight`` .. ``lin4.model.1.weight`` (``[1, C, 1, 1]``, C = 64, 192, 384, 256,
  256; ``lin{l}.weight`` is accepted too);
- ``backbone``: torchvision's ImageNet AlexNet weights, ``alexnet-owt-7be5be79.pth`` (torchvision
  caches it under ``~/.cache/torch/hub/checkpoints/`` after ``alexnet(weights="IMAGENET1K_V1")``);
  tensors ``features.{0,3,6,8,10}.{weight,bias}`` (the classifier's tensors are ignored).

Both may be ``.pth``/``.pt`` (read with ``torch.load(weights_only=True)``, so no pickled code runs)
or ``.safetensors``. A missing or unreadable file, or missing/misshapen tensors, raise
:class:`~emoctl.errors.CheckpointError` naming the file, the tensors and where they come from.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from emoctl.errors import CheckpointError, ShapeError
from emoctl.metrics._judges import check_pair

#: AlexNet trunk: (features index, in channels, out channels, kernel, stride, padding, max-pool before)
_CONVS = ((0, 3, 64, 11, 4, 2, False), (3, 64, 192, 5, 1, 2, True), (6, 192, 384, 3, 1, 1, True),
          (8, 384, 256, 3, 1, 1, False), (10, 256, 256, 3, 1, 1, False))
CHANNELS = tuple(c[2] for c in _CONVS)
#: smallest image side the AlexNet trunk accepts (two 3x3/2 max-pools after an 11x11/4 conv)
MIN_SIZE = 31
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_LINEAR_HINT = "the LPIPS v0.1 linear weights: lpips/weights/v0.1/alex.pth from the lpips wheel (pip download lpips --no-deps)"
_BACKBONE_HINT = "torchvision's ImageNet AlexNet weights alexnet-owt-7be5be79.pth (torchvision's hub checkpoint cache)"


def _read(path: str | Path, what: str, hint: str) -> dict[str, Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"LPIPS: {what} file {path} does not exist; it should hold {hint}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every reader failure is a bad checkpoint
        raise CheckpointError(f"LPIPS: cannot read the {what} file {path} as tensors ({exc}); it should hold {hint}") from exc
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"LPIPS: the {what} file {path} is not a dict of tensors; it should hold {hint}")
    return state


def _take(state: dict[str, Tensor], wanted: dict[str, tuple[str, ...]], shapes: dict[str, tuple[int, ...]], what: str, path: str | Path, hint: str) -> dict[str, Tensor]:
    """``{name: tensor}`` for each wanted name, found under any of its aliases, with the expected shape."""
    out, missing, bad = {}, [], []
    for name, aliases in wanted.items():
        key = next((a for a in aliases if a in state), None)
        if key is None:
            missing.append(aliases[0])
        elif tuple(state[key].shape) != shapes[name]:
            bad.append(f"{key} {tuple(state[key].shape)} (expected {shapes[name]})")
        else:
            out[name] = state[key].float()
    if missing or bad:
        parts = ([f"missing {missing}"] if missing else []) + ([f"misshapen {bad}"] if bad else [])
        raise CheckpointError(f"LPIPS: the {what} file {path} has {'; '.join(parts)}; it should hold {hint}")
    return out


class LPIPS(nn.Module):
    """LPIPS distance of image pairs ``[N, H, W, 3]`` in [0, 1] → ``[N]`` (0 for identical images).

    Build with :meth:`from_files`; the module holds no trainable state (``requires_grad`` off,
    eval mode) and is differentiable in its inputs. ``H, W >=`` :data:`MIN_SIZE`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(i, o, k, s, p) for _, i, o, k, s, p, _ in _CONVS)
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in CHANNELS)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_files(cls, linear: str | Path, backbone: str | Path) -> LPIPS:
        """An LPIPS metric from the linear-layer and AlexNet weight files (see the module doc)."""
        lin_state = _read(linear, "linear-layer", _LINEAR_HINT)
        net_state = _read(backbone, "AlexNet backbone", _BACKBONE_HINT)
        lin = _take(
            lin_state,
            {f"{l}": (f"lin{l}.model.1.weight", f"lin{l}.weight") for l in range(len(CHANNELS))},
            {f"{l}": (1, c, 1, 1) for l, c in enumerate(CHANNELS)},
            "linear-layer", linear, _LINEAR_HINT,
        )
        wanted, shapes = {}, {}
        for j, (idx, i, o, k, *_rest) in enumerate(_CONVS):
            for p, shape in (("weight", (o, i, k, k)), ("bias", (o,))):
                wanted[f"{j}.{p}"] = (f"features.{idx}.{p}",)
                shapes[f"{j}.{p}"] = shape
        net = _take(net_state, wanted, shapes, "AlexNet backbone", backbone, _BACKBONE_HINT)
        metric = cls()
        metric.convs.load_state_dict(net)
        metric.lins.load_state_dict({f"{l}.weight": w for l, w in lin.items()})
        return metric

    def _features(self, x: Tensor) -> list[Tensor]:
        x = (x * 2 - 1 - self.shift) / self.scale
        feats = []
        for conv, (*_front, pool) in zip(self.convs, _CONVS):
            if pool:
                x = nn.functional.max_pool2d(x, 3, 2)
            x = torch.relu(conv(x))
            feats.append(x)
        return feats

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """``[N]`` LPIPS of ``pred`` and ``target`` ``[N, H, W, 3]`` in [0, 1]."""
        check_pair(pred, target, "LPIPS")
        if min(pred.shape[1:3]) < MIN_SIZE:
            raise ShapeError(f"LPIPS: images must be at least {MIN_SIZE}x{MIN_SIZE} for AlexNet, got {tuple(pred.shape[1:3])}")
        n = pred.shape[0]
        both = torch.cat([pred, target]).permute(0, 3, 1, 2).to(self.shift.dtype)
        total = both.new_zeros(n)
        for feat, lin in zip(self._features(both), self.lins):
            unit = feat / (feat.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + lin((unit[:n] - unit[n:]).pow(2)).mean((1, 2, 3))
        return total
