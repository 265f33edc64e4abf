"""``train_backbone``: train a reference backbone (``lam`` / ``uv``) by self-reenactment.

Each step takes ``batch_size`` items of the training folder (:class:`~emoctl.train.batches.BackboneData`):
the reference image of an identity builds an avatar, which is driven by the FLAME parameters of the
identity's frames (other frames, views and emotions; the backbone is never told the emotion) and
rendered with their cameras; :func:`emoctl.losses.reconstruction_loss` compares the renders with the
frames. AdamW with warm-up and cosine decay, gradient clipping.

Every ``val_every`` steps: PSNR / SSIM on the validation folder's identities (held out from
training); every ``ckpt_every`` steps: ``OUT/checkpoint/state.pt``. A run resumed from its
checkpoint ends with exactly the weights of an uninterrupted run (same threads): the batches and
the per-step random state are pure functions of ``(seed, step)``, and the optimiser, scheduler and
RNG states are restored. At the end: ``OUT/model.safetensors`` + ``config.json`` + ``README.md``
(:func:`emoctl.backbones.hub.save`), ``history.json``, ``curves.png``, ``training.json``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch

from emoctl._files import atomic_write_bytes
from emoctl.data import stable_seed
from emoctl.errors import ConfigError, DataError
from emoctl.losses import LossWeights
from emoctl.train.batches import BackboneData, ValidationData
from emoctl.train.checkpoint import checkpoint_path, load_checkpoint, restore_model, restore_rng, save_checkpoint
from emoctl.train.config import BackboneTrainingConfig
from emoctl.train.history import new_history, write_history
from emoctl.train.step import batch_loss, validate


def lr_factor(step: int, config: BackboneTrainingConfig) -> float:
    """The LR multiplier of step ``step``: linear warm-up, then cosine decay to ``min_lr_ratio``."""
    if step < config.warmup_steps:
        return (step + 1) / (config.warmup_steps + 1)
    span = max(config.steps - config.warmup_steps, 1)
    progress = min((step - config.warmup_steps) / span, 1.0)
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def check_inputs(config: BackboneTrainingConfig, resume: bool) -> None:
    """Refuse bad folders before anything is written."""
    for name in ("data_dir", "val_dir"):
        path = Path(getattr(config, name))
        if not getattr(config, name) or not path.is_dir():
            raise DataError(f"{name.replace('_dir', '')} folder {str(path)!r} does not exist")
    if not config.out_dir:
        raise ConfigError("out_dir is required")
    out = Path(config.out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out folder {out} is a file")
    if not resume and checkpoint_path(out).exists():
        raise ConfigError(f"{out} already holds a training checkpoint; resume it (--resume) or choose another folder")


def dataset_recipe(data_dir: str | Path) -> dict[str, Any]:
    """The recipe the training data came from: ``recipe.json`` two folders up (``OUT/<kind>/<split>``) or
    in the folder itself, else the data manifest's dataset config."""
    data = Path(data_dir).resolve()
    for candidate in (data.parent.parent / "recipe.json", data / "recipe.json"):
        if candidate.is_file():
            return {"recipe": json.loads(candidate.read_text()), "split_dir": str(data.relative_to(candidate.parent))}
    manifest = json.loads((data / "manifest.json").read_text())
    return {"dataset_config": manifest.get("config")}


def train_backbone(config: BackboneTrainingConfig, progress: bool = True, resume: bool = False,
                   stop_at: int | None = None) -> dict[str, Any]:
    """Train (or, with ``resume``, continue) the run described by ``config``; see the module docstring.

    ``stop_at``: stop after that many steps with only a checkpoint written, as a killed run would be
    (tests). Returns ``{"out", "steps", "val", "seconds", "stopped_early"}``.
    """
    from emoctl.backbones import arch_classes

    check_inputs(config, resume)
    model_config = config.model_config()
    _, model_cls = arch_classes(config.arch)
    render_size = int(getattr(model_config, "render_size"))
    train_data = BackboneData(config.data_dir, config.frames_per_sample, config.rendered_per_sample,
                              config.batch_size, render_size, config.seed)
    val_data = ValidationData(config.val_dir, config.frames_per_sample, config.val_items_per_identity, render_size)
    state = load_checkpoint(config.out_dir) if resume else None
    if state is not None:
        conflicts = config.resume_conflicts(state["config"])
        if conflicts:
            raise ConfigError(f"cannot resume {config.out_dir}: {conflicts} differ from its checkpoint's config")
    weights = LossWeights.from_json(config.loss_weights)

    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        model = model_cls(model_config)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
        history, step, elapsed_before = new_history(), 0, 0.0
        if state is not None:
            restore_model(model, state)
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            restore_rng(state)
            history, step, elapsed_before = state["history"], state["step"], state["elapsed"]
            print(f"resuming {config.out_dir} at step {step}")
        elif resume:
            print(f"no checkpoint in {config.out_dir}; starting at step 0")
        Path(config.out_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(Path(config.out_dir) / "training.json", json.dumps(config.to_json(), indent=1).encode())
        return _loop(config, model, optimizer, scheduler, train_data, val_data, weights, history, step,
                     elapsed_before, progress, stop_at)
    finally:
        torch.set_num_threads(threads)


def _loop(config, model, optimizer, scheduler, train_data, val_data, weights, history, step, elapsed_before,
          progress, stop_at) -> dict[str, Any]:
    from tqdm.auto import tqdm

    start = time.monotonic()
    deadline = None if config.max_minutes is None else start + 60.0 * config.max_minutes
    elapsed = lambda: elapsed_before + time.monotonic() - start  # noqa: E731

    def checkpoint(next_step: int) -> None:
        save_checkpoint(config.out_dir, model=model, optimizer=optimizer, scheduler=scheduler, step=next_step,
                        config=config.to_json(), history=history, elapsed=elapsed())
        write_history(config.out_dir, history)

    model.train()
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc=f"train {config.arch}", unit="step")
    stopped_early = False
    try:
        while step < config.steps:
            t0 = time.monotonic()
            torch.manual_seed(stable_seed("backbone-step", config.seed, step))
            batch = train_data.batch(step)
            loss, logs = batch_loss(model, batch, weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                logs["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip))
            logs["lr"] = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            logs["samples_per_s"] = config.batch_size / max(time.monotonic() - t0, 1e-9)
            history["train"].append({"step": step + 1, **logs})
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{logs['loss']:.4f}", psnr=f"{logs['psnr']:.2f}",
                            samples_s=f"{logs['samples_per_s']:.2f}")
            if step % config.val_every == 0 and step < config.steps:
                _validate(model, val_data, history, step, bar)
            if stop_at is not None and step >= stop_at:
                checkpoint(step)
                return {"out": config.out_dir, "steps": step, "val": None, "seconds": elapsed(), "stopped_early": True}
            if step % config.ckpt_every == 0:
                checkpoint(step)
                if not progress:  # a log line per checkpoint instead of the bar
                    print(f"step {step}/{config.steps}: loss {logs['loss']:.4f}, train PSNR {logs['psnr']:.2f} dB, "
                          f"{logs['samples_per_s']:.2f} samples/s, {elapsed() / 60:.1f} min", flush=True)
            if deadline is not None and time.monotonic() > deadline and step < config.steps:
                stopped_early = True
                bar.write(f"max_minutes={config.max_minutes} reached at step {step}; finishing")
                break
    finally:
        bar.close()
    final = history["val"][-1] if history["val"] and history["val"][-1]["step"] == step else None
    if final is None:
        final = _validate(model, val_data, history, step, None)
    checkpoint(step)
    _save_model(config, model, history, step, elapsed(), final, stopped_early)
    print(f"done: {step} steps, validation PSNR {final['psnr']:.2f} dB, SSIM {final['ssim']:.4f}; "
          f"{elapsed() / 60:.1f} min; model in {config.out_dir}")
    return {"out": config.out_dir, "steps": step, "val": final, "seconds": elapsed(), "stopped_early": stopped_early}


def _validate(model, val_data, history, step, bar) -> dict[str, Any]:
    result = {"step": step, **validate(model, val_data)}
    history["val"].append(result)
    message = f"step {step}: validation PSNR {result['psnr']:.2f} dB, SSIM {result['ssim']:.4f} ({result['images']} images)"
    (bar.write if bar is not None else print)(message)
    return result


def _save_model(config, model, history, step, seconds, final, stopped_early) -> None:
    from emoctl.backbones.hub import save

    record = {
        "steps": step,
        "steps_planned": config.steps,
        "stopped_early": stopped_early,
        "seed": config.seed,
        "wall_time_s": round(seconds, 1),
        "final_val": {k: final[k] for k in ("psnr", "ssim", "images")},
        "final_val_per_identity": final["per_identity"],
        "final_train_psnr_20": (sum(r["psnr"] for r in history["train"][-20:]) / max(len(history["train"][-20:]), 1)),
        "data": dataset_recipe(config.data_dir),
        "val_data": str(Path(config.val_dir).resolve()),
        "training_config": config.to_json(),
    }
    save(model, config.out_dir, {"training": record})
