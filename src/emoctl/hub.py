"""Saving and loading modulators in the Hugging Face Hub layout.

The layout follows ``huggingface_hub.PyTorchModelHubMixin``: a folder (or Hub repo) with
``model.safetensors`` (the added modules' tensors only), ``config.json`` (everything needed to
rebuild them, plus the emoctl version and the SHA-256 of the weights) and a ``README.md`` model
card. Differences from the mixin, on purpose: loading is strict (no silently partial loads),
saving is staged and moved into place, and nothing is ever unpickled.

``huggingface_hub`` is imported only when the Hub is actually used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

from emoctl._files import fsync_dir, sha256_file, write_durable
from emoctl.config import ModulatorConfig, parse_parts
from emoctl.errors import CheckpointError

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
CARD_NAME = "README.md"
_STAGING_PREFIX = ".emoctl-staging-"
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


# ---------------------------------------------------------------------------------- saving
def save_checkpoint(modulators: nn.Module, directory, *, model_card: str | None = None) -> Path:
    """Write the modulators to ``directory`` (created if needed); returns the folder.

    Every file is written to a staging folder inside ``directory`` and flushed to disk first,
    then moved over the old files with ``os.replace`` (weights, then config, then card). An
    exception or a kill while writing leaves the previous checkpoint untouched; the config records
    the weights' SHA-256, so the only remaining window (between two renames) is detected on load.
    Other files in ``directory`` are never touched.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"cannot save into {directory}: it exists and is not a folder")
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in modulators.state_dict().items()}
    _remove_stale_staging(directory)
    staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{os.getpid()}-", dir=directory))
    try:
        weights = staging / WEIGHTS_NAME
        save_file(state, str(weights), metadata={"format": "pt", "emoctl": "modulators"})
        with open(weights, "rb") as f:
            os.fsync(f.fileno())
        config = modulators.config.to_dict()
        config["weights_sha256"] = sha256_file(weights)
        card = model_card if model_card is not None else render_model_card(modulators)
        write_durable(staging / CONFIG_NAME, (json.dumps(config, indent=2, sort_keys=False) + "\n").encode("utf-8"))
        write_durable(staging / CARD_NAME, card.encode("utf-8"))
        for name in (WEIGHTS_NAME, CONFIG_NAME, CARD_NAME):
            os.replace(staging / name, directory / name)
        fsync_dir(directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


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


# ---------------------------------------------------------------------------------- loading
def read_checkpoint(pretrained, *, revision=None, cache_dir=None, local_files_only=None, token=None):
    """Read ``(config, tensors, source)`` from a folder or a Hub repo id, checking integrity.

    Raises :class:`CheckpointError` for a missing folder or repo, a revision that is not cached
    while offline, a corrupt or tampered file.
    """
    config_path, weights_path, source = _resolve_files(pretrained, revision, cache_dir, local_files_only, token)
    try:
        raw = json.loads(Path(config_path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{source}: config.json is corrupt ({e})") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{source}: config.json must hold a JSON object")
    config = ModulatorConfig.from_dict(raw)
    expected_sha = raw.get("weights_sha256")
    if expected_sha is not None and sha256_file(weights_path) != expected_sha:
        raise CheckpointError(
            f"{source}: model.safetensors does not match the SHA-256 recorded in config.json "
            "(an interrupted save, a partial download or a modified file)"
        )
    tensors = _load_safetensors(weights_path, source)
    return config, tensors, source


def _resolve_files(pretrained, revision, cache_dir, local_files_only, token):
    path = Path(os.fspath(pretrained)).expanduser()
    if path.is_dir():
        missing = [n for n in (CONFIG_NAME, WEIGHTS_NAME) if not (path / n).is_file()]
        if missing:
            raise CheckpointError(f"{path} is not an emoctl checkpoint: missing {', '.join(missing)}")
        return path / CONFIG_NAME, path / WEIGHTS_NAME, str(path)
    text = os.fspath(pretrained)
    if not _REPO_ID.match(text) or path.exists():
        raise CheckpointError(f"no checkpoint folder at {text!r} (and it is not a Hub repo id like 'org/name')")
    return _download(text, revision, cache_dir, local_files_only, token)


def _download(repo_id, revision, cache_dir, local_files_only, token):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    source = f"{repo_id}@{revision}" if revision else repo_id
    kwargs = dict(repo_id=repo_id, revision=revision, cache_dir=cache_dir, token=token, library_name="emoctl")
    if local_files_only is not None:
        kwargs["local_files_only"] = local_files_only
    try:
        config_path = hf_hub_download(filename=CONFIG_NAME, **kwargs)
        weights_path = hf_hub_download(filename=WEIGHTS_NAME, **kwargs)
    except LocalEntryNotFoundError:
        raise CheckpointError(
            f"{source} is not in the local Hugging Face cache and the Hub cannot be reached "
            "(offline mode or no network); download it once online, or pin a cached commit with revision="
        ) from None
    except RepositoryNotFoundError:
        raise CheckpointError(f"Hub repository {repo_id!r} does not exist or is private (pass token=)") from None
    except RevisionNotFoundError:
        raise CheckpointError(f"Hub repository {repo_id!r} has no revision {revision!r}") from None
    except EntryNotFoundError as e:
        raise CheckpointError(f"{source} is not an emoctl checkpoint: {e}") from None
    except OSError as e:
        raise CheckpointError(f"could not fetch {source} from the Hub: {e}") from None
    return Path(config_path), Path(weights_path), source


def _load_safetensors(path, source) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{source}: model.safetensors is corrupt or unreadable ({e})") from None


def load_checkpoint_into(modulators: nn.Module, pretrained, *, parts="all", **resolve_kwargs) -> None:
    """Strictly load a checkpoint into existing modulators (see ``EmotionModulators.load_pretrained``)."""
    parts = parse_parts(parts)
    config, tensors, source = read_checkpoint(pretrained, **resolve_kwargs)
    problems = modulators.config.mismatches(config, parts)
    if problems:
        hint = ""
        if "appearance" in parts and all(p.startswith(("backbone", "appearance", "gate")) for p in problems):
            hint = "\nTo reuse only its emotion embedding and geometry branch, load with parts='geometry'."
        raise CheckpointError(
            f"checkpoint {source} does not fit these modulators:\n  - " + "\n  - ".join(problems) + hint
        )
    assign_state(modulators, tensors, parts=parts, source=source)


def assign_state(modulators: nn.Module, tensors: dict, *, parts, source: str) -> None:
    """Copy ``tensors`` into the modules of ``parts``, all-or-nothing, after checking names and shapes."""
    current = modulators.state_dict()
    wanted = {k for k in current if k.split(".", 1)[0] in parts}
    given = {k for k in tensors if k.split(".", 1)[0] in parts}
    problems = [f"missing tensor {k}" for k in sorted(wanted - given)]
    problems += [f"unexpected tensor {k}" for k in sorted(given - wanted)]
    problems += [
        f"{k}: checkpoint shape {tuple(tensors[k].shape)}, model shape {tuple(current[k].shape)}"
        for k in sorted(wanted & given)
        if tensors[k].shape != current[k].shape
    ]
    problems += [f"{k}: non-finite values" for k in sorted(wanted & given) if tensors[k].is_floating_point() and not torch.isfinite(tensors[k]).all()]
    if problems:
        shown = problems[:12] + ([f"... and {len(problems) - 12} more"] if len(problems) > 12 else [])
        raise CheckpointError(f"checkpoint {source} does not match the modulators:\n  - " + "\n  - ".join(shown))
    merged = dict(current)
    merged.update({k: tensors[k] for k in wanted})
    modulators.load_state_dict(merged, strict=True)


# ---------------------------------------------------------------------------------- pushing
def push_checkpoint(modulators, repo_id: str, *, private=None, token=None, revision=None,
                    commit_message="Upload emoctl modulators", create_pr=False):
    """Save into a temporary folder and upload it to the Hub in one commit; returns the commit info."""
    from huggingface_hub import HfApi

    if not _REPO_ID.match(repo_id):
        raise ValueError(f"repo_id must look like 'org/name', got {repo_id!r}")
    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="emoctl-push-") as tmp:
        save_checkpoint(modulators, tmp)
        api.create_repo(repo_id=repo_id, private=private, exist_ok=True, repo_type="model")
        return api.upload_folder(
            repo_id=repo_id, folder_path=tmp, commit_message=commit_message, revision=revision,
            create_pr=create_pr, repo_type="model",
        )


# ---------------------------------------------------------------------------------- helpers
def _remove_stale_staging(directory: Path) -> None:
    """Delete staging folders left by saves whose process died (killed mid-save)."""
    for entry in directory.glob(f"{_STAGING_PREFIX}*"):
        pid_text = entry.name[len(_STAGING_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except (PermissionError, OSError):
            pass  # alive (or not ours to judge): leave it
