"""``emoctl train`` commands: ``backbone``.

    emoctl train backbone --arch lam --data D/appearance/train --val D/appearance/val --out runs/lam \
        [--steps N] [--max-minutes M] [--batch-size B] [--threads T] [--seed S] \
        [--config-json FILE_OR_JSON] [--resume] [--no-progress]

``--config-json``: a JSON object (inline, or a file holding one) of
:class:`~emoctl.train.config.BackboneTrainingConfig` fields (``model``, ``lr``, ``loss_weights``, ...);
the explicit flags override it. Bad input is a one-line error and exit code 2, before anything is written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emoctl.errors import ConfigError


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = subparsers.add_parser(
        "backbone", help="train a reference backbone (lam or uv) by self-reenactment on a synthetic dataset",
        description="Train a reference backbone; writes OUT/model.safetensors + config.json + README.md, "
        "history.json, curves.png, and OUT/checkpoint/ for --resume.")
    p.add_argument("--arch", required=True, help="lam or uv")
    p.add_argument("--data", required=True, help="training dataset folder (e.g. DATA/appearance/train)")
    p.add_argument("--val", required=True, help="validation dataset folder (held-out identities)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--max-minutes", type=float, default=None, help="stop (validate, save) after this wall time")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default 1)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--config-json", default=None, help="JSON object or file of training config fields")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint/")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=train_backbone_command)


def config_from_args(args: argparse.Namespace):
    """The :class:`BackboneTrainingConfig` of the command line (``ConfigError`` for bad values)."""
    from emoctl.train.config import BackboneTrainingConfig

    fields = {}
    if args.config_json is not None:
        text = args.config_json
        if not text.lstrip().startswith("{"):
            path = Path(text)
            if not path.is_file():
                raise ConfigError(f"--config-json {text!r} is neither a JSON object nor a file")
            text = path.read_text()
        try:
            fields = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"--config-json is not valid JSON: {exc}") from None
        if not isinstance(fields, dict):
            raise ConfigError("--config-json must hold a JSON object")
    flags = {"arch": args.arch, "data_dir": args.data, "val_dir": args.val, "out_dir": args.out, "steps": args.steps,
             "max_minutes": args.max_minutes, "batch_size": args.batch_size, "threads": args.threads, "seed": args.seed}
    fields.update({k: v for k, v in flags.items() if v is not None})
    return BackboneTrainingConfig.from_json(fields)


def train_backbone_command(args: argparse.Namespace) -> int:
    from emoctl.train.backbone import train_backbone

    config = config_from_args(args)
    train_backbone(config, progress=not args.no_progress, resume=args.resume)
    return 0
