"""A small held-out check set, stored with the tests, that pins a shipped backbone to its card.

:func:`export_check_set` takes a few held-out identities from a dataset folder (their reference
image and camera, shape, and some driven frames in every view with their ground truth) and writes
one ``.safetensors`` file (uint8 images, float32 parameters; no pickle). :func:`check_set_psnr`
renders it with a backbone and returns the mean PSNR, which the backbone's card records; a test
recomputes it from the shipped files.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from emoctl.errors import CheckpointError, DataError
from emoctl.eval.backbone_quality import avatar_inputs, driving_inputs, item_indices, open_folder, select
from emoctl.flame_schema import FRAME_KEYS

#: The per-frame FLAME keys a check set stores (the one schema).
FLAME_KEYS = FRAME_KEYS


def export_check_set(folder: str | Path, out: str | Path, *, identities: int = 2, frames: tuple[int, ...] = (4, 12),
                     emotions: tuple[str, ...] = ("neutral", "happy")) -> Path:
    """Write the check set (module docstring): for each of the first ``identities`` identities of
    ``folder``, the given frames of its clips in ``emotions``, every view."""
    from emoctl._files import atomic_write_bytes

    data = open_folder(folder)
    tensors: dict[str, list[Tensor]] = {}
    chosen: list[str] = []
    for i in item_indices(data, clips=tuple(emotions), identities=identities):
        item = data[i]
        if item["identity"] not in chosen:
            chosen.append(item["identity"])
        picked = select(item, list(frames))
        image, kwargs = avatar_inputs(picked)
        flame, c2w, k, bg, targets = driving_inputs(picked, 1)
        row = {"reference": (image[0, 0] * 255).round().to(torch.uint8), "betas": kwargs["betas"][0],
               "source_c2ws": kwargs["source_c2ws"][0], "source_intrs": kwargs["source_intrs"][0],
               "c2ws": c2w[0], "intrs": k[0], "targets": (targets * 255).round().to(torch.uint8)}
        for key in FLAME_KEYS:
            row[key] = flame[key][0].float()
        for key, value in row.items():
            tensors.setdefault(key, []).append(value.contiguous())
    if not chosen:
        raise DataError(f"{folder} has no clips in {list(emotions)}")
    stacked = {k: torch.stack(v).contiguous() for k, v in tensors.items()}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save

    atomic_write_bytes(out, save(stacked, metadata={"identities": ",".join(chosen)}))
    return out


def load_check_set(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a check set (``CheckpointError`` when the file is missing or malformed)."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"check set {path} does not exist")
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # a damaged file
        raise CheckpointError(f"check set {path} cannot be read: {exc}") from None
    missing = sorted({"reference", "betas", "source_c2ws", "source_intrs", "c2ws", "intrs", "targets", *FLAME_KEYS} - set(tensors))
    if missing:
        raise CheckpointError(f"check set {path} lacks {missing}")
    return tensors


@torch.no_grad()
def check_set_psnr(model, path: str | Path) -> float:
    """Mean PSNR (dB) of ``model``'s renders of the check set against its ground truth."""
    from emoctl.metrics import psnr

    t = load_check_set(path)
    model.eval()
    values = []
    for m in range(t["reference"].shape[0]):
        image = t["reference"][m].float()[None, None] / 255
        avatar = model.build_avatar(image, betas=t["betas"][m:m + 1], source_c2ws=t["source_c2ws"][m:m + 1],
                                    source_intrs=t["source_intrs"][m:m + 1])
        flame = {k: t[k][m:m + 1] for k in FLAME_KEYS}
        n = t["c2ws"].shape[1]
        targets = t["targets"][m].float() / 255
        renders = model.render_avatar(avatar, flame, t["c2ws"][m:m + 1], t["intrs"][m:m + 1], torch.ones(1, n, 3),
                                      size=targets.shape[1])["comp_rgb"][0].clamp(0, 1)
        values += psnr(renders, targets).tolist()
    return float(sum(values) / len(values))
