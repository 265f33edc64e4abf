"""``emoctl eval`` commands: ``backbone``.

    emoctl eval backbone --backbone lam-ref|DIR|HUB_ID --data D/appearance/test [--train D/appearance/train] \
        --out DIR [--frame-stride 4] [--max-identities N] [--mean-identities 32] [--record-in DIR] \
        [--check-set FILE]

Writes ``OUT/report.json`` (PSNR/SSIM per held-out identity, their mean and spread, the mean-avatar
baseline with ``--train``), ``OUT/identity.png`` and ``OUT/baked_emotion.png``. ``--record-in DIR``
adds the figures to the ``config.json`` and card of the backbone saved in ``DIR`` (its weights are
rewritten unchanged). ``--check-set FILE`` exports a small held-out check set first (two identities
of ``--data``) and records the backbone's PSNR on it, which a test recomputes from shipped files.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emoctl.errors import DataError


def register(subparsers) -> None:
    p = subparsers.add_parser("backbone", help="held-out self-reenactment quality of a backbone (+ mean-avatar baseline)")
    p.add_argument("--backbone", required=True, help="lam-ref, uv-ref, a saved folder or a Hub repo id")
    p.add_argument("--data", required=True, help="held-out dataset folder (e.g. DATA/appearance/test)")
    p.add_argument("--train", default=None, help="training dataset folder, for the mean-avatar baseline")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--frame-stride", type=int, default=4)
    p.add_argument("--max-identities", type=int, default=None)
    p.add_argument("--mean-identities", type=int, default=32)
    p.add_argument("--record-in", default=None, help="a saved backbone folder whose card receives the figures")
    p.add_argument("--check-set", default=None, help="export a held-out check set here and record its PSNR")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=eval_backbone_command)


def eval_backbone_command(args: argparse.Namespace) -> int:
    import time

    import torch

    from emoctl._files import atomic_write_bytes
    from emoctl.backbones.hub import card_extra_of, load, read_config, save
    from emoctl.eval.backbone_figures import baked_emotion_figure, identity_figure
    from emoctl.eval.backbone_quality import evaluate_backbone, mean_avatar_colors

    for flag, folder in (("--data", args.data), ("--train", args.train), ("--record-in", args.record_in)):
        if folder is not None and not Path(folder).is_dir():
            raise DataError(f"{flag} {folder} is not a folder")
    if args.frame_stride < 1:
        raise DataError(f"--frame-stride must be >= 1, got {args.frame_stride}")
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load(args.backbone)
    start = time.time()
    mean = mean_avatar_colors(model, args.train, args.mean_identities) if args.train else None
    report = evaluate_backbone(model, args.data, mean_colors=mean, frame_stride=args.frame_stride,
                               max_identities=args.max_identities, progress=not args.no_progress)
    report["data"] = str(args.data)
    report["mean_identities"] = args.mean_identities if args.train else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    identity_figure(model, args.data, out / "identity.png")
    baked = baked_emotion_figure(model, args.data, out / "baked_emotion.png")
    if args.check_set:
        from emoctl.eval.check_set import check_set_psnr, export_check_set

        export_check_set(args.data, args.check_set)
        report["check_set"] = {"file": Path(args.check_set).name, "psnr": check_set_psnr(model, args.check_set)}
    report["seconds"] = round(time.time() - start, 1)
    atomic_write_bytes(out / "report.json", json.dumps(report, indent=1, sort_keys=True).encode())
    if args.record_in:
        record = read_config(Path(args.record_in))
        extra = card_extra_of(record)
        extra["evaluation"] = report
        save(model, args.record_in, card_extra=extra)
    line = f"held-out PSNR {report['psnr']['mean']:.2f} dB (std {report['psnr']['std']:.2f}), SSIM {report['ssim']['mean']:.4f}"
    if "gain_db" in report:
        line += f"; mean avatar {report['mean_avatar']['psnr']['mean']:.2f} dB -> gain {report['gain_db']:+.2f} dB"
    print(line)
    print(f"wrote {out / 'report.json'}, {out / 'identity.png'}" + (f", {baked}" if baked else ""))
    return 0
