"""Trackers shipped with emoctl: :class:`PassThroughTracker` (ground truth plus optional noise)."""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from emoctl.data.flame_params import FlameSequence, as_flame_sequence
from emoctl.data.types import ReenactedClip
from emoctl.errors import DataError


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from ``parts`` (their ``str``), the same in every process and Python version.

    Python's ``hash`` of a string is randomised per process, so it cannot seed per-clip noise or
    per-item sampling that must agree between a build, its resumption and DataLoader workers.
    """
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little") >> 1


class PassThroughTracker:
    """Returns the reenactor's ground-truth FLAME, plus Gaussian noise on ``expr`` and ``jaw_pose``.

    The noise (standard deviation ``noise_std``) is drawn from a generator seeded with
    :func:`stable_seed` of ``(seed, key)``, so a clip gets the same noise in every run and process.
    """

    name = "pass-through"

    def __init__(self, noise_std: float = 0.0, seed: int = 0):
        if isinstance(noise_std, bool) or not isinstance(noise_std, (int, float)) or not noise_std >= 0:
            raise DataError(f"PassThroughTracker: noise_std must be a number >= 0, got {noise_std!r}")
        self.noise_std = float(noise_std)
        self.seed = int(seed)

    def config(self) -> dict[str, Any]:
        return {"noise_std": self.noise_std, "seed": self.seed}

    def track(self, clip: ReenactedClip, key: str) -> FlameSequence:
        if clip.flame is None:
            raise DataError(
                f"PassThroughTracker: clip {key!r} has no ground-truth FLAME (ReenactedClip.flame is None); "
                "use a reenactor that returns it, or a real tracker"
            )
        out = as_flame_sequence(clip.flame, name=f"clip {key!r}: reenactor FLAME")
        out = {k: v.clone() for k, v in out.items()}
        if self.noise_std > 0:
            generator = torch.Generator().manual_seed(stable_seed(self.seed, key))
            for name in ("expr", "jaw_pose"):
                noise = torch.randn(out[name].shape, generator=generator, dtype=torch.float32)
                out[name] = out[name] + self.noise_std * noise
        return out
