"""Loading: check ``config.json``, the weights' hash and the safetensors header, then read.

See :mod:`emoctl.hub` for what *strict* means.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from emoctl._files import sha256_file
from emoctl._locks import folder_lock
from emoctl.config import PARTS, ModulatorConfig, parse_parts
from emoctl.errors import CheckpointError
from emoctl.hub.layout import CONFIG_NAME, REPO_ID, WEIGHTS_NAME
from emoctl.hub.remote import download
from emoctl.hub.shapes import expected_shapes

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MAX_CONFIG_BYTES = 1 << 20
_FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")
_OTHER_DTYPES = {"I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
                 "U8": torch.uint8, "BOOL": torch.bool}


@dataclass(frozen=True)
class OpenedCheckpoint:
    """A checkpoint whose config, hash and safetensors header have been checked; no tensor read yet.

    ``header`` maps every tensor name in ``model.safetensors`` to ``(shape, dtype)``, the dtype as
    safetensors spells it (``"F32"``, ``"I64"``, ...).
    """

    config: ModulatorConfig
    source: str
    weights: Path
    header: dict


@contextlib.contextmanager
def open_checkpoint(pretrained, *, revision=None, cache_dir=None, local_files_only=None,
                    token=None) -> Iterator[OpenedCheckpoint]:
    """Open a checkpoint folder or Hub repo id for the ``with`` block, checking config, hash and
    header. A local folder stays under a shared lock for the block, so no save can swap its files
    while they are read. Every problem is a :class:`CheckpointError`."""
    folder, repo_id = _locate(pretrained)
    if folder is None:
        yield _open(*download(repo_id, revision, cache_dir, local_files_only, token))
        return
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(folder_lock(folder, shared=True))
        except OSError as e:
            raise CheckpointError(f"cannot read the checkpoint folder {folder}: {e.strerror or e}") from None
        missing = [n for n in (CONFIG_NAME, WEIGHTS_NAME) if not (folder / n).is_file()]
        if missing:
            raise CheckpointError(f"{folder} is not an emoctl checkpoint: missing {', '.join(missing)}")
        yield _open(folder / CONFIG_NAME, folder / WEIGHTS_NAME, str(folder))


def load_checkpoint_into(modulators: nn.Module, pretrained, *, parts="all", **resolve_kwargs) -> None:
    """Strictly load a checkpoint into existing modulators (see ``EmotionModulators.load_pretrained``)."""
    try:
        parts = parse_parts(parts)
    except ValueError as e:
        raise CheckpointError(f"load_pretrained: {e}") from None
    if not parts:
        raise CheckpointError("load_pretrained: parts is empty, nothing would be loaded")
    with open_checkpoint(pretrained, **resolve_kwargs) as ckpt:
        problems = modulators.config.mismatches(ckpt.config, parts)
        if problems:
            hint = ""
            if "appearance" in parts and all(p.startswith(("backbone", "appearance", "gate")) for p in problems):
                hint = "\nTo reuse only its emotion embedding and geometry branch, load with parts='geometry'."
            raise CheckpointError(
                f"checkpoint {ckpt.source} does not fit these modulators:\n  - " + "\n  - ".join(problems) + hint
            )
        tensors = read_tensors(ckpt, layout_of(modulators), parts)
    assign_state(modulators, tensors, source=ckpt.source)


def build_from_checkpoint(cls: type[nn.Module], pretrained, **resolve_kwargs) -> nn.Module:
    """``cls(config)`` with the checkpoint's config and weights (see ``EmotionModulators.from_pretrained``).

    The config's sizes are bounded and its tensor layout (:func:`~emoctl.hub.shapes.expected_shapes`)
    is compared with the safetensors header before the modules are built, so a config that does
    not describe its weights is refused at once, whatever sizes it claims.
    """
    with open_checkpoint(pretrained, **resolve_kwargs) as ckpt:
        dtype = torch.get_default_dtype()
        layout = {k: (shape, dtype) for k, shape in expected_shapes(ckpt.config).items()}
        tensors = read_tensors(ckpt, layout, PARTS)
    modulators = cls(ckpt.config)
    assign_state(modulators, tensors, source=ckpt.source)
    return modulators


def layout_of(modulators: nn.Module) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """``{tensor name: (shape, dtype)}`` of the modulators' state dict."""
    return {k: (tuple(v.shape), v.dtype) for k, v in modulators.state_dict().items()}


def read_tensors(ckpt: OpenedCheckpoint, layout: dict, parts: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Check the header against ``layout`` (from :func:`layout_of`) for ``parts``, then read the
    tensors of ``parts``. Raises :class:`CheckpointError` listing every missing, unexpected,
    misshapen or wrongly typed tensor, and every tensor with non-finite values."""
    from safetensors import SafetensorError, safe_open

    header = ckpt.header
    wanted = {k for k in layout if _part(k) in parts}
    given = {k for k in header if _part(k) in parts}
    problems = [f"missing tensor {k}" for k in sorted(wanted - given)]
    problems += [f"unexpected tensor {k}" for k in sorted(given - wanted)]
    problems += [f"unexpected tensor {k} (not in any part: {', '.join(PARTS)})" for k in sorted(header) if _part(k) not in PARTS]
    for k in sorted(wanted & given):
        (shape, stored), (expected_shape, dtype) = header[k], layout[k]
        if shape != expected_shape:
            problems.append(f"{k}: checkpoint shape {shape}, model shape {expected_shape}")
        if dtype.is_floating_point and stored not in _FLOAT_DTYPES:
            problems.append(f"{k}: stored as {stored}, expected floating point ({', '.join(_FLOAT_DTYPES)})")
        elif not dtype.is_floating_point and _OTHER_DTYPES.get(stored) != dtype:
            problems.append(f"{k}: stored as {stored}, expected {dtype}")
    _refuse(problems, ckpt.source)
    try:
        with safe_open(str(ckpt.weights), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in sorted(wanted)}
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{ckpt.source}: model.safetensors is corrupt or unreadable ({e})") from None
    _refuse([f"{k}: non-finite values" for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()],
            ckpt.source)
    return tensors


def assign_state(modulators: nn.Module, tensors: dict, *, source: str) -> None:
    """Copy ``tensors`` (checked by :func:`read_tensors`) into the modulators in one step, after
    checking their names and shapes against the modulators' own state dict once more."""
    current = modulators.state_dict()
    _refuse([f"unexpected tensor {k}" for k in sorted(set(tensors) - set(current))]
            + [f"{k}: checkpoint shape {tuple(v.shape)}, model shape {tuple(current[k].shape)}"
               for k, v in sorted(tensors.items()) if k in current and v.shape != current[k].shape], source)
    parts = {_part(k) for k in tensors}
    _refuse([f"missing tensor {k}" for k in sorted(current) if _part(k) in parts and k not in tensors], source)
    current.update(tensors)
    modulators.load_state_dict(current, strict=True)


def _refuse(problems: list[str], source: str) -> None:
    if problems:
        shown = problems[:12] + ([f"... and {len(problems) - 12} more"] if len(problems) > 12 else [])
        raise CheckpointError(f"checkpoint {source} does not match the modulators:\n  - " + "\n  - ".join(shown))


def _part(name: str) -> str:
    return name.split(".", 1)[0]


def _open(config_path: Path, weights_path: Path, source: str) -> OpenedCheckpoint:
    from safetensors import SafetensorError, safe_open

    config, expected_sha = _read_config(Path(config_path), source)
    try:
        if expected_sha is not None and sha256_file(weights_path) != expected_sha:
            raise CheckpointError(
                f"{source}: model.safetensors does not match the SHA-256 recorded in config.json "
                "(an interrupted save, a partial download or a modified file)"
            )
        with safe_open(str(weights_path), framework="pt") as f:
            header = {}
            for k in f.keys():
                info = f.get_slice(k)
                header[k] = (tuple(info.get_shape()), info.get_dtype())
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{source}: model.safetensors is corrupt or unreadable ({e})") from None
    return OpenedCheckpoint(config, source, Path(weights_path), header)


def _read_config(path: Path, source: str) -> tuple[ModulatorConfig, str | None]:
    """The checked config and the weights' recorded SHA-256 (``None`` when absent)."""
    try:
        too_big = path.stat().st_size > _MAX_CONFIG_BYTES
        text = None if too_big else path.read_text(encoding="utf-8")
    except OSError as e:
        raise CheckpointError(f"{source}: config.json is unreadable ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{source}: config.json is corrupt ({e})") from None
    if too_big:
        raise CheckpointError(f"{source}: config.json is larger than {_MAX_CONFIG_BYTES} bytes; not a modulator config")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as e:  # also integers too long to convert
        raise CheckpointError(f"{source}: config.json is corrupt ({e})") from None
    config = ModulatorConfig.from_dict(raw, source=source)
    sha = raw.get("weights_sha256")
    if sha is not None and not (isinstance(sha, str) and _SHA256.match(sha)):
        raise CheckpointError(f"{source}: config.json field 'weights_sha256' must be 64 lowercase hex digits, got {sha!r:.80}")
    return config, sha


def _locate(pretrained) -> tuple[Path | None, str | None]:
    """``(folder, None)`` for an existing folder, ``(None, repo_id)`` for a Hub repo id."""
    try:
        text = os.fsdecode(pretrained)
    except TypeError:
        raise CheckpointError(
            f"expected a checkpoint folder or a Hub repo id like 'org/name', got {type(pretrained).__name__}"
        ) from None
    path = Path(text).expanduser()
    if path.is_dir():
        return path, None
    if not REPO_ID.match(text) or path.exists():
        raise CheckpointError(f"no checkpoint folder at {text!r} (and it is not a Hub repo id like 'org/name')")
    return None, text
