"""``emoctl data`` commands: ``verify <root>``, ``merge <root>``, ``info <root>``.

``register(subparsers)`` adds the three sub-commands to an ``argparse`` sub-parser group; each sets
``func``, a callable ``(args) -> int`` exit status. ``python -m emoctl.data.cli`` runs them alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Sequence

from emoctl.errors import EmoctlError


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``verify``, ``merge`` and ``info`` to ``subparsers``."""
    p = subparsers.add_parser("verify", help="check a dataset: checksums, missing files, synchronisation")
    p.add_argument("root", help="dataset folder (with manifest.json)")
    p.add_argument("--skip-frames", action="store_true", help="do not decode frames (checksums still cover them)")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.set_defaults(func=_verify)

    p = subparsers.add_parser("merge", help="join the shard files of a build into manifest.json")
    p.add_argument("root", help="dataset folder with shards/shard-<i>-of-<n>.json")
    p.add_argument("--num-shards", type=int, default=None, help="n, when shard files of several counts are present")
    p.set_defaults(func=_merge)

    p = subparsers.add_parser("info", help="summarise a dataset's manifest")
    p.add_argument("root", help="dataset folder (with manifest.json)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_info)


def _verify(args: argparse.Namespace) -> int:
    from emoctl.data.verify import verify

    report = verify(args.root, check_frames=not args.skip_frames, progress=args.progress)
    print(report.summary())
    return 0 if report.ok else 1


def _merge(args: argparse.Namespace) -> int:
    from emoctl.data.merge import merge_shards

    try:
        path = merge_shards(args.root, num_shards=args.num_shards)
    except EmoctlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def dataset_info(root: str) -> dict:
    """A short summary of the manifest at ``root``: counts, frame counts, config, generator.

    ``clips`` counts every clip: ``constant_clips`` (one emotion throughout) plus ``curve_clips``
    (emotion changing over the clip, ``DatasetConfig.curve_clips`` = ``curve_clips_per_pair`` per
    (identity, anchor)). ``bytes`` is the total the manifest records (``verify`` checks each file's
    byte count); :class:`~emoctl.errors.DataError` when the manifest is missing or malformed.
    """
    from emoctl.data.config import DatasetConfig
    from emoctl.data.layout import curve_clip_names
    from emoctl.data.manifest import load_manifest

    manifest = load_manifest(root)
    config = DatasetConfig.from_json(manifest["config"])
    clips = manifest["clips"]
    frames = Counter(c["num_frames"] for c in clips)
    curve_names = set(curve_clip_names(config.curve_clips))
    curves = sum(c["emotion"] in curve_names for c in clips)
    return {
        "root": str(root),
        "schema_version": manifest["schema_version"],
        "emotions": manifest["emotions"],
        "config": config.to_json(),
        "generator": manifest["generator"],
        "identities": len(manifest["identities"]),
        "anchors": len(manifest["anchors"]),
        "clips": len(clips),
        "constant_clips": len(clips) - curves,
        "curve_clips": curves,
        "curve_clips_per_pair": config.curve_clips,
        "frames_per_clip": {str(k): v for k, v in sorted(frames.items())},
        "total_frames": sum(c["num_frames"] * c["num_views"] for c in clips),
        "bytes": sum(f["bytes"] for group in ("identities", "anchors") for e in manifest[group] for f in e["files"].values())
        + sum(c["bytes"] for c in clips),
    }


def _info(args: argparse.Namespace) -> int:
    try:
        info = dataset_info(args.root)
    except EmoctlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(info, indent=1, sort_keys=True))
        return 0
    cfg = info["config"]
    gen = info["generator"]
    print(f"{info['root']}: emoctl dataset, schema {info['schema_version']}")
    print(f"  config:     {cfg['kind']}, {cfg['fps']:g} fps, max {cfg['max_frames']} frames, "
          f"{cfg['frame_format']}, {cfg['image_size'][0]}x{cfg['image_size'][1]}")
    print(f"  emotions:   {', '.join(info['emotions'])}")
    print(f"  generator:  reenactor {gen['reenactor']['name']}, tracker {gen['tracker']['name']}, "
          f"emoctl {gen['emoctl_version']}")
    print(f"  identities: {info['identities']}, anchors: {info['anchors']}, clips: {info['clips']}, "
          f"frames: {info['total_frames']}, bytes: {info['bytes']}")
    print(f"  clips:      {info['constant_clips']} constant-emotion, {info['curve_clips']} curve "
          f"({info['curve_clips_per_pair']} per identity x anchor)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emoctl-data", description=__doc__.splitlines()[0])
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
