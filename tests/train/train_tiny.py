"""Shared by the trainer tests: a tiny backbone config and a tiny training run config."""

from __future__ import annotations

from pathlib import Path

#: A backbone small enough for a training step in well under a second on one thread.
TINY_MODEL = {"num_points": 128, "width": 32, "cond_dim": 32, "layers": 1, "encoder_depth": 1, "image_size": 32,
              "patch": 8, "render_size": 32}


def tiny_training(tiny_recipe: Path, out: Path, **changes):
    from emoctl.train import BackboneTrainingConfig

    fields = dict(arch="lam", model=dict(TINY_MODEL), data_dir=str(tiny_recipe / "appearance" / "train"),
                  val_dir=str(tiny_recipe / "appearance" / "val"), out_dir=str(out), steps=6, batch_size=2,
                  frames_per_sample=2, rendered_per_sample=3, warmup_steps=2, val_every=3, ckpt_every=2,
                  val_items_per_identity=1, threads=1)
    fields.update(changes)
    return BackboneTrainingConfig(**fields)
