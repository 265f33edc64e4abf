"""Saving and loading reference backbones in the Hugging Face Hub layout.

A backbone folder (or Hub repo) holds:

- ``model.safetensors``: the model's state dict without the head template (``template.*``: the
  template is rebuilt from the config, the synthetic head of ``head_seed`` / ``head_subdivide``);
- ``config.json``: ``{"format": "emoctl-backbone", "version": 1, "arch", "model": <the arch's config
  JSON>, "weights_sha256", "emoctl_version", ...card_extra}`` (the training record under ``training``);
- ``README.md``: a model card with the figures of the training record.

:func:`save` writes the weights, then the card, then the config, each atomically
(:func:`emoctl._files.atomic_write_bytes`); the config carries the weights' SHA-256, so a kill between
two files leaves a folder that :func:`load` refuses rather than a silent mix. :func:`load` is
strict and never unpickles: the config is checked (format, version, arch, fields), then the
weights' hash, then every tensor name and shape in the safetensors header against the freshly built
model, before any tensor is read; every failure is a :class:`~emoctl.errors.CheckpointError`.

``load`` takes a shipped name (:data:`SHIPPED`), a local folder, or a Hub repo id (``owner/name``,
fetched with ``huggingface_hub.snapshot_download``; only for names that are not local paths).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from emoctl._files import atomic_write_bytes, sha256_file
from emoctl.errors import CheckpointError, ConfigError, EmoctlError

FORMAT = "emoctl-backbone"
VERSION = 1
WEIGHTS_NAME, CONFIG_NAME, CARD_NAME = "model.safetensors", "config.json", "README.md"
#: Tensors not saved: rebuilt from the config.
SKIPPED_PREFIXES = ("template.",)
_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: Shipped backbones: name -> package folder (absent until their weights are built and committed).
SHIPPED: dict[str, Path] = {"lam-ref": _WEIGHTS_DIR / "lam-ref", "uv-ref": _WEIGHTS_DIR / "uv-ref"}
_SHIPPED_ARCH = {"lam-ref": "lam", "uv-ref": "uv"}
_MAX_CONFIG_BYTES = 4 << 20


#: ``config.json`` fields that :func:`save` writes itself (``card_extra`` may not set them).
RESERVED_FIELDS = frozenset({"format", "version", "arch", "model", "weights_sha256", "emoctl_version"})


def card_extra_of(record: dict[str, Any]) -> dict[str, Any]:
    """The ``card_extra`` a saved ``config.json`` record was written with (to save again with more)."""
    return {k: v for k, v in record.items() if k not in RESERVED_FIELDS}


def saved_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors :func:`save` writes (the state dict less :data:`SKIPPED_PREFIXES`), contiguous, on the CPU."""
    return {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()
            if not k.startswith(SKIPPED_PREFIXES)}


def save(model: nn.Module, folder: str | Path, card_extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (a backbone with ``config.to_json()``) to ``folder``; ``card_extra``: more
    ``config.json`` fields (e.g. ``{"training": {...}}``), also summarised in the card. Returns the folder."""
    from safetensors.torch import save as save_bytes

    from emoctl._version import __version__

    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "to_json"):
        raise CheckpointError(f"{type(model).__name__} has no config with to_json(); it is not a backbone")
    extra = dict(card_extra or {})
    reserved = sorted(set(extra) & RESERVED_FIELDS)
    if reserved:
        raise CheckpointError(f"card_extra may not set {reserved}")
    state = saved_state(model)
    bad = sorted(k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all()))
    if bad:
        raise CheckpointError(f"refusing to save NaN or infinite weights: {bad[:5]}")
    payload = save_bytes(state, metadata={"format": FORMAT})
    model_json = config.to_json()
    record = {"format": FORMAT, "version": VERSION, "arch": model_json["arch"], "model": model_json,
              "weights_sha256": hashlib.sha256(payload).hexdigest(), "emoctl_version": __version__, **extra}
    try:
        text = json.dumps(record, indent=1, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"card_extra is not JSON (finite numbers, strings, lists, objects): {exc}") from None
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / WEIGHTS_NAME, payload)
        atomic_write_bytes(folder / CARD_NAME, model_card(record).encode())
        atomic_write_bytes(folder / CONFIG_NAME, text.encode())
    except OSError as exc:
        raise CheckpointError(f"cannot save the backbone to {folder}: {exc}") from None
    return folder


def model_card(record: dict[str, Any]) -> str:
    """The README.md of a saved backbone: arch, size, and the training record's figures."""
    lines = [f"# emoctl reference backbone ({record['arch']})", "",
             f"Format `{FORMAT}` v{VERSION}; load with `emoctl.backbones.load(<this folder or repo id>)`.", ""]
    lines += ["| model field | value |", "|---|---|"] + [f"| `{k}` | {v} |" for k, v in sorted(record["model"].items())]
    training = record.get("training")
    if isinstance(training, dict):
        val = training.get("final_val") or {}
        lines += ["", "## Training", "",
                  f"- steps: {training.get('steps')} (seed {training.get('seed')}), wall time "
                  f"{_minutes(training.get('wall_time_s'))}",
                  f"- validation (held-out identities): PSNR {_num(val.get('psnr'), 2)} dB, SSIM {_num(val.get('ssim'), 4)} "
                  f"over {val.get('images')} images"]
        data = training.get("data") or {}
        if "recipe" in data:
            lines.append(f"- data: recipe `{data['recipe'].get('name')}`, folder `{data.get('split_dir')}`")
        per = training.get("final_val_per_identity")
        if isinstance(per, dict) and per:
            lines += ["", "| validation identity | PSNR (dB) | SSIM |", "|---|---|---|"]
            lines += [f"| {i} | {_num(v.get('psnr'), 2)} | {_num(v.get('ssim'), 4)} |" for i, v in sorted(per.items())]
    lines += _evaluation_lines(record.get("evaluation"))
    reproduce = record.get("reproduce")
    if isinstance(reproduce, list) and reproduce:
        lines += ["", "## Reproduce", "", "```"] + [str(c) for c in reproduce] + ["```"]
    return "\n".join(lines) + "\n"


def _evaluation_lines(evaluation: Any) -> list[str]:
    """The card's held-out section (``emoctl eval backbone --record-in``)."""
    if not isinstance(evaluation, dict) or not isinstance(evaluation.get("psnr"), dict):
        return []
    p, s = evaluation["psnr"], evaluation.get("ssim") or {}
    lines = ["", "## Held-out self-reenactment", "",
             f"{evaluation.get('identities')} held-out identities (`{evaluation.get('data')}`), {evaluation.get('images')} "
             f"images (every {evaluation.get('frame_stride')}th frame, every view):", "",
             "| | PSNR (dB) mean | std over identities | min | max | SSIM |", "|---|---|---|---|---|---|",
             f"| backbone | {_num(p.get('mean'), 2)} | {_num(p.get('std'), 2)} | {_num(p.get('min'), 2)} | "
             f"{_num(p.get('max'), 2)} | {_num(s.get('mean'), 4)} |"]
    mean = evaluation.get("mean_avatar")
    if isinstance(mean, dict):
        mp, ms = mean.get("psnr") or {}, mean.get("ssim") or {}
        lines.append(f"| mean avatar ({evaluation.get('mean_identities')} training identities' average colours) | "
                     f"{_num(mp.get('mean'), 2)} | {_num(mp.get('std'), 2)} | {_num(mp.get('min'), 2)} | "
                     f"{_num(mp.get('max'), 2)} | {_num(ms.get('mean'), 4)} |")
        lines += ["", f"Gain over the mean avatar: {_num(evaluation.get('gain_db'), 2)} dB."]
    parts = [f"{evaluation[k]['identities']} with {label}: {_num(evaluation[k].get('psnr'), 2)} dB"
             for k, label in (("baked_references", "an emotion baked into the reference"),
                              ("neutral_references", "a neutral reference")) if isinstance(evaluation.get(k), dict)]
    if parts:
        lines += ["", "PSNR by reference: " + "; ".join(parts) + " (the backbone is never told the emotion, so a "
                  "baked-in emotion stays in the avatar: `baked_emotion.png`)."]
    check = evaluation.get("check_set")
    if isinstance(check, dict):
        lines += ["", f"Check set `{check.get('file')}` (tests/backbones/): PSNR {_num(check.get('psnr'), 3)} dB "
                  "(a test recomputes it from the shipped files)."]
    return lines


def _num(value: Any, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "n/a"


def _minutes(seconds: Any) -> str:
    return f"{seconds / 60:.1f} min" if isinstance(seconds, (int, float)) else "n/a"


def load(name_or_path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """A backbone from a shipped name (:data:`SHIPPED`), a local folder or a Hub repo id, checked
    strictly (see the module docstring); in eval mode on ``map_location``."""
    folder = _resolve(name_or_path)
    record = read_config(folder)
    from emoctl.backbones import build

    try:
        model = build(record["model"])
    except EmoctlError as exc:
        raise CheckpointError(f"{folder / CONFIG_NAME}: the model config is invalid: {exc}") from None
    tensors = read_weights(folder, record, saved_state(model))
    model.load_state_dict(tensors, strict=False)
    return model.to(map_location).eval()


def _resolve(name_or_path: str | Path) -> Path:
    name = str(name_or_path)
    if name in SHIPPED:
        folder = SHIPPED[name]
        if not (folder / CONFIG_NAME).is_file():
            raise CheckpointError(
                f"the {name!r} weights are not shipped with this emoctl build (no {folder}); build them with "
                f"`emoctl train backbone --arch {_SHIPPED_ARCH[name]} --data DATA/appearance/train --val "
                f"DATA/appearance/val --out {folder}` on `emoctl data build-synthetic --recipe benchmark --out DATA`")
        return folder
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise CheckpointError(f"{path} is a file; a backbone is a folder with {CONFIG_NAME} and {WEIGHTS_NAME}")
        return path
    from emoctl.hub.layout import REPO_ID

    if not REPO_ID.match(name):
        raise CheckpointError(f"{name!r} is not a shipped backbone ({sorted(SHIPPED)}), a local folder or a Hub repo id")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=name, allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, CARD_NAME],
                                      library_name="emoctl"))
    except Exception as exc:  # network, missing repo, offline cache miss: all reported the same way
        raise CheckpointError(f"cannot fetch backbone {name!r} from the Hugging Face Hub: {type(exc).__name__}: {exc}") from None


def read_config(folder: Path) -> dict[str, Any]:
    """``config.json`` of a backbone folder, checked (format, version, arch, model fields)."""
    from emoctl.backbones import ARCHS, arch_classes

    path = folder / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{folder} has no {CONFIG_NAME}; it is not a saved backbone")
    if path.stat().st_size > _MAX_CONFIG_BYTES:
        raise CheckpointError(f"{path} is larger than {_MAX_CONFIG_BYTES >> 20} MiB")
    try:
        record = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        found = record.get("format") if isinstance(record, dict) else None
        raise CheckpointError(f"{path} is not an {FORMAT!r} config (format {found!r})")
    if record.get("version") != VERSION:
        raise CheckpointError(f"{path} has version {record.get('version')!r}; this emoctl reads version {VERSION}")
    arch, model = record.get("arch"), record.get("model")
    if arch not in ARCHS or not isinstance(model, dict) or model.get("arch") != arch:
        raise CheckpointError(f"{path}: arch {arch!r} / model config {type(model).__name__} are not a known backbone "
                              f"({sorted(ARCHS)}) with a matching model.arch")
    try:
        arch_classes(arch)[0].from_json(model)
    except ConfigError as exc:
        raise CheckpointError(f"{path}: the model config is invalid: {exc}") from None
    if not isinstance(record.get("weights_sha256"), str):
        raise CheckpointError(f"{path} has no weights_sha256")
    return record


def _no_constant(name: str):
    raise ValueError(f"{name} is not allowed")


def read_weights(folder: Path, record: dict[str, Any], expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of ``model.safetensors``, after its hash and header match ``expected`` (names, shapes)."""
    from safetensors import SafetensorError, safe_open

    path = folder / WEIGHTS_NAME
    if not path.is_file():
        raise CheckpointError(f"{folder} has no {WEIGHTS_NAME}")
    if sha256_file(path) != record["weights_sha256"]:
        raise CheckpointError(f"{path} does not match the SHA-256 in {CONFIG_NAME} (a damaged or mixed save)")
    try:
        with safe_open(str(path), framework="pt") as f:
            names = set(f.keys())
            missing, unexpected = sorted(set(expected) - names), sorted(names - set(expected))
            problems = [f"missing {missing[:5]}"] * bool(missing) + [f"unexpected {unexpected[:5]}"] * bool(unexpected)
            for key in sorted(names & set(expected)):
                shape = tuple(f.get_slice(key).get_shape())
                if shape != tuple(expected[key].shape):
                    problems.append(f"{key}: {list(shape)} in the file, {list(expected[key].shape)} in the model")
            if problems:
                raise CheckpointError(f"{path} does not fit the {record['arch']} model of its config: " + "; ".join(problems[:8]))
            tensors = {k: f.get_tensor(k) for k in sorted(names)}
    except SafetensorError as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from None
    for key, value in tensors.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{path}: {key} holds NaN or infinite values")
        tensors[key] = value.to(expected[key].dtype)
    return tensors


__all__ = ["SHIPPED", "load", "save", "read_config", "model_card"]
