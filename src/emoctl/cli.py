"""The ``emoctl`` command.

    emoctl info                                  version, adapters, optional parts
    emoctl demo --out demo-out                   the end-to-end synthetic demo
    emoctl flame convert generic_model.pkl flame2020.safetensors [--landmarks emb.npy] [--source FLAME2020]
    emoctl data build-synthetic --recipe benchmark --out DIR [--kind K] [--split S] [--shard i/n|auto]
    emoctl data build-synthetic OUT [--identities 8 ...] [--curve-clips N]
    emoctl data verify|merge|info ROOT
    emoctl train backbone --arch lam|uv --data DIR --val DIR --out DIR [--steps N] [--resume]

Each sub-command's work is imported only when it runs; building the parser imports torch (through
``emoctl``) and the data package's argument declarations (about 60 ms).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence

from emoctl._version import __version__


def _info(args: argparse.Namespace) -> int:
    from emoctl.adapters import available_adapters

    print(f"emoctl {__version__}")
    import torch

    print(f"torch {torch.__version__} (CUDA available: {torch.cuda.is_available()})")
    print("adapters:", ", ".join(f"{name} ({cls.__module__}.{cls.__qualname__})" for name, cls in sorted(available_adapters().items())))
    for module, extra in [("smplx", "flame"), ("imageio_ffmpeg", "video"), ("gsplat", "gsplat"), ("diffusers", "test")]:
        found = importlib.util.find_spec(module) is not None
        print(f"  {module:<15} {'installed' if found else f'missing (pip install emoctl[{extra}])'}")
    return 0


def _flame_convert(args: argparse.Namespace) -> int:
    from emoctl.flame import convert

    out = convert(args.pickle, args.output, landmark_path=args.landmarks, source=args.source)
    print(f"wrote {out}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from emoctl.demo import run_demo

    run_demo(args.out, quick=args.quick, seed=args.seed, threads=args.threads)
    return 0


def _build_synthetic(args: argparse.Namespace) -> int:
    from emoctl.data import DatasetConfig, parse_shard
    from emoctl.errors import DataError

    out = args.out_option or args.out
    if out is None or (args.out is not None and args.out_option is not None and args.out != args.out_option):
        raise DataError("build-synthetic needs one output folder: OUT or --out DIR")
    spec = args.shard
    if spec is not None and spec.strip().isdigit():  # the older form: --shard I --num-shards N
        spec = f"{spec.strip()}/{args.num_shards if args.num_shards is not None else 1}"
    elif args.num_shards is not None:
        raise DataError("--num-shards goes with --shard I (an integer); use --shard i/n or --shard auto alone")
    shard = parse_shard(spec)
    if args.threads < 1:
        raise DataError(f"--threads must be >= 1, got {args.threads}")
    curve_clips = _curve_clips(args.curve_clips)
    import torch

    torch.set_num_threads(args.threads)
    if args.recipe is not None:
        return _build_recipe(args, out, shard, curve_clips)
    if args.split is not None:
        raise DataError("--split chooses a split of a recipe; it needs --recipe")
    sizes = {"identities": 8, "anchors": 2, "frames": 16, "image_size": 128, "views": 3, "seed": 0, "subdivide": 1}
    sizes.update({k: getattr(args, k) for k in sizes if getattr(args, k) is not None})
    preset = DatasetConfig.geometry if args.kind == "geometry" else DatasetConfig.appearance
    from emoctl.synthetic import build_synthetic_dataset

    summary = build_synthetic_dataset(out, **sizes, config=preset(image_size=sizes["image_size"]), shard=shard,
                                      curve_clips=curve_clips, progress=not args.no_progress)
    print(summary)
    return 0


def _curve_clips(text: str | None) -> int | None:
    """``--curve-clips``: None when not given, else an int >= 0 (a one-line DataError otherwise)."""
    from emoctl.errors import DataError

    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise DataError(f"--curve-clips must be an integer >= 0, got {text!r}")
    return value


def _build_recipe(args: argparse.Namespace, out: str, shard: tuple[int, int], curve_clips: int | None) -> int:
    from emoctl.synthetic import build_recipe, recipe

    kinds = (args.kind,) if args.kind else ("appearance", "geometry")
    chosen = recipe(args.recipe).with_overrides(
        kinds, identities=args.identities, anchors=args.anchors, frames=args.frames, views=args.views,
        image_size=args.image_size, curve_clips=curve_clips, seed=args.seed, subdivide=args.subdivide,
    )
    splits = (args.split,) if args.split else ("train", "val", "test")
    result = build_recipe(chosen, out, kinds=kinds, splits=splits, shard=shard, progress=not args.no_progress)
    for key, summary in result.items():
        if key != "merged":
            print(f"{key}: shard {shard[0]}/{shard[1]}: {summary.clips_written} clips written, "
                  f"{summary.clips_skipped} skipped of {summary.clips_total}, {summary.seconds:.0f} s")
    waiting = [k for k in result if k != "merged" and k not in result["merged"]]
    if result["merged"]:
        print(f"merged: {', '.join(result['merged'])}")
    if waiting:
        print(f"waiting for the other shards of: {', '.join(waiting)} (the last shard to finish merges; shards built on "
              "other machines: copy their folders here, then emoctl data merge OUT/<kind>/<split>)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emoctl", description="Explicit emotion control for 3D Gaussian head avatars.")
    parser.add_argument("--version", action="version", version=f"emoctl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="versions, adapters and optional parts")
    p.set_defaults(func=_info)

    p = sub.add_parser("demo", help="build a synthetic dataset, fit the geometry branch, render emotions")
    p.add_argument("--out", default="demo-out", help="output folder (default: demo-out)")
    p.add_argument("--quick", action="store_true", help="a smaller, faster run (for tests)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.set_defaults(func=_demo)

    flame = sub.add_parser("flame", help="FLAME model files").add_subparsers(dest="flame_command", required=True)
    p = flame.add_parser("convert", help="convert an official FLAME pickle to safetensors, without running pickled code")
    p.add_argument("pickle", help="generic_model.pkl / flame2023.pkl (or .npz)")
    p.add_argument("output", help="the .safetensors file to write")
    p.add_argument("--landmarks", default=None, help="a landmark embedding (.npy/.npz/.pkl) to include")
    p.add_argument("--source", default=None, help="FLAME2020, FLAME2023, ... (default: guessed from the file name)")
    p.set_defaults(func=_flame_convert)

    data = sub.add_parser("data", help="emotion-synchronised datasets").add_subparsers(dest="data_command", required=True)
    from emoctl.data.cli import register

    register(data)
    p = data.add_parser(
        "build-synthetic", help="build a dataset from the synthetic world (a named recipe, or explicit sizes)",
        description="Build from the synthetic world. With --recipe (tiny, demo, benchmark: docs/synthetic-world.md) "
        "every kind's train/val/test split goes to OUT/<kind>/<split>; explicit flags override the recipe "
        "(--identities/--anchors: its train split). Without, one dataset of explicit sizes goes to OUT.",
    )
    p.add_argument("out", nargs="?", default=None, help="output folder (or --out)")
    p.add_argument("--out", dest="out_option", default=None, help="output folder")
    p.add_argument("--recipe", default=None, help="a named recipe: tiny, demo or benchmark")
    p.add_argument("--kind", choices=["appearance", "geometry"], default=None,
                   help="one configuration (default: appearance; with --recipe: both)")
    p.add_argument("--split", choices=["train", "val", "test"], default=None, help="with --recipe: one split (default: all)")
    p.add_argument("--identities", type=int, default=None, help="default 8 (with --recipe: the train split's)")
    p.add_argument("--anchors", type=int, default=None, help="default 2 (with --recipe: the train split's)")
    p.add_argument("--frames", type=int, default=None, help="frames per clip (default 16)")
    p.add_argument("--image-size", type=int, default=None, help="default 128")
    p.add_argument("--views", type=int, default=None, help="default 3")
    p.add_argument("--subdivide", type=int, default=None, help="head subdivision (default 1)")
    p.add_argument("--curve-clips", default=None, metavar="N",
                   help="clips per identity x anchor whose emotion changes over the clip (default: the recipe's "
                   "or the config's, 0); with --recipe: every split of the chosen kinds")
    p.add_argument("--shard", default=None,
                   help="i/n: build shard i of n; auto: from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or RANK/WORLD_SIZE")
    p.add_argument("--num-shards", type=int, default=None, help=argparse.SUPPRESS)  # the older --shard I --num-shards N
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads of this process (default 1: run one shard process per core)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_build_synthetic)

    train = sub.add_parser("train", help="train models").add_subparsers(dest="train_command", required=True)
    from emoctl.train.cli import register as register_train

    register_train(train)

    evaluate = sub.add_parser("eval", help="evaluate models on held-out data").add_subparsers(dest="eval_command", required=True)
    from emoctl.eval.cli import register as register_eval

    register_eval(evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from emoctl.errors import EmoctlError

    try:
        return int(args.func(args) or 0)
    except EmoctlError as exc:
        print(f"emoctl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emoctl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
