"""The ``emoctl`` command.

    emoctl info                                  version, adapters, optional parts
    emoctl demo --out demo-out                   the end-to-end synthetic demo
    emoctl flame convert generic_model.pkl flame2020.safetensors [--landmarks emb.npy] [--source FLAME2020]
    emoctl data build-synthetic OUT [--identities 8 ...]
    emoctl data verify|merge|info ROOT

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
    from emoctl.data import DatasetConfig
    from emoctl.synthetic import build_synthetic_dataset

    preset = DatasetConfig.geometry if args.kind == "geometry" else DatasetConfig.appearance
    config = preset(image_size=args.image_size)
    summary = build_synthetic_dataset(
        args.out, identities=args.identities, anchors=args.anchors, frames=args.frames, image_size=args.image_size,
        views=args.views, config=config, shard=(args.shard, args.num_shards), progress=not args.no_progress, seed=args.seed,
    )
    print(summary)
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
    p = data.add_parser("build-synthetic", help="build a dataset from the synthetic world")
    p.add_argument("out")
    p.add_argument("--kind", choices=["appearance", "geometry"], default="appearance")
    p.add_argument("--identities", type=int, default=8)
    p.add_argument("--anchors", type=int, default=2)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--views", type=int, default=3)
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--num-shards", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_build_synthetic)
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
