"""Saving: stage the three files, then move them into place under the folder's lock.

See :mod:`emoctl.hub` for what a concurrent, failed or killed save leaves behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

from emoctl._files import fsync_dir, fsync_file, sha256_file, write_durable
from emoctl._locks import folder_lock
from emoctl.errors import CheckpointError
from emoctl.hub.card import render_model_card
from emoctl.hub.layout import CARD_NAME, CONFIG_NAME, FILES, STAGING_PREFIX, WEIGHTS_NAME


def save_checkpoint(modulators: nn.Module, directory, *, model_card: str | None = None) -> Path:
    """Write the modulators to ``directory`` (created if needed); returns the folder.

    See the module doc for what a concurrent, failed or killed save leaves behind. Other files in
    ``directory`` are never touched.
    """
    directory = _save_target(directory)
    if model_card is not None and not isinstance(model_card, str):
        raise CheckpointError(f"model_card must be a str, got {type(model_card).__name__}")
    state = {k: v.detach().to("cpu").contiguous() for k, v in modulators.state_dict().items()}
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(
            f"refusing to save to {directory}: non-finite values in {', '.join(bad)} (loading would refuse them)"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(directory)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=directory))
    except OSError as e:
        raise _save_failed(directory, e, intact=True) from e
    try:
        _stage(modulators, state, staging, directory, model_card)
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(folder_lock(directory))
            except OSError as e:
                raise _save_failed(directory, e, intact=True) from e
            _move_into_place(staging, directory)
        fsync_dir(directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def _save_target(directory) -> Path:
    try:
        directory = Path(os.fsdecode(directory))
    except TypeError:
        raise CheckpointError(f"save_directory must be a folder path, got {type(directory).__name__}") from None
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"cannot save into {directory}: it exists and is not a folder")
    return directory


def _stage(modulators: nn.Module, state: dict, staging: Path, directory: Path, model_card: str | None) -> None:
    """Write the three files into ``staging``, each flushed to disk."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    try:
        weights = staging / WEIGHTS_NAME
        # One metadata entry: safetensors writes a metadata dict in hash-map order, so two
        # entries made the same weights give different bytes (and SHA-256) from save to save.
        save_file(state, str(weights), metadata={"format": "pt"})
        fsync_file(weights)
        config = modulators.config.to_dict()
        config["weights_sha256"] = sha256_file(weights)
        card = model_card if model_card is not None else render_model_card(modulators)
        write_durable(staging / CONFIG_NAME, (json.dumps(config, indent=2, sort_keys=False) + "\n").encode("utf-8"))
        write_durable(staging / CARD_NAME, card.encode("utf-8"))
    except (OSError, SafetensorError) as e:
        raise _save_failed(directory, e, intact=True) from e


def _move_into_place(staging: Path, directory: Path) -> None:
    """Rename the staged files over the old ones. If a rename fails, the files already replaced
    are put back from hard links made beforehand, so the folder keeps its previous checkpoint."""
    backups: dict[str, Path | None] = {}
    for name in FILES:
        if os.path.lexists(directory / name):
            backups[name] = staging / f"{name}.previous"
            try:
                os.link(directory / name, backups[name], follow_symlinks=False)
            except OSError:  # a folder in the way, or no hard links on this file system
                backups[name] = None
    moved: list[str] = []
    for name in FILES:
        try:
            os.replace(staging / name, directory / name)
        except OSError as e:
            raise _save_failed(directory, e, intact=_put_back(moved, backups, directory), what=name) from e
        moved.append(name)


def _put_back(moved: list[str], backups: dict[str, Path | None], directory: Path) -> bool:
    """Undo the renames of ``moved``; whether the folder is back to its previous state."""
    restored = True
    for name in moved:
        try:
            if name not in backups:
                os.remove(directory / name)  # there was none before
            elif backups[name] is not None:
                os.replace(backups[name], directory / name)
            else:
                restored = False
        except OSError:
            restored = False
    return restored


def _save_failed(directory: Path, exc: Exception, *, intact: bool, what: str | None = None) -> CheckpointError:
    reason = getattr(exc, "strerror", None) or str(exc)
    where = f" (replacing {what})" if what else ""
    if intact:
        outcome = "the previous checkpoint there, if any, is intact"
    else:
        outcome = "the folder may now mix two saves, which loading refuses (SHA-256); save again"
    return CheckpointError(f"could not save the checkpoint to {directory}: {reason}{where}; {outcome}")


def _remove_stale_staging(directory: Path) -> None:
    """Delete staging folders left by saves whose process died (killed mid-save)."""
    for entry in directory.glob(f"{STAGING_PREFIX}*"):
        pid_text = entry.name[len(STAGING_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except (PermissionError, OSError):
            pass  # alive (or not ours to judge): leave it
