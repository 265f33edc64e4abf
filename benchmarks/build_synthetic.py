"""Benchmark: building the demo-sized synthetic dataset (emoctl.synthetic) on 2 cores.

The demo size: 64 identities x 2 anchors x 7 emotions x 16 frames at 128 x 128, 3 views, appearance
configuration (5 fps, PNG) = 896 clips, 14,336 frames, 43,008 images.

What it measures, in one run:

1. the baseline: the reenactor alone (no files), one process, one thread, on a few clips: images
   per second, and where the time goes (FLAME skinning and shading vs. the rasterizer);
2. the build: ``build_synthetic_dataset`` into a fresh folder with ``--shards`` processes of
   ``--threads`` torch threads each (default 2 x 1: the 2 cores), then ``merge_shards``; wall
   time, CPU time, clips/s, frames/s, images/s, size on disk; and the ratio of the build's
   images/s to the baseline's (x the number of processes): how much the builder (PNG, hashing,
   fsync) and the parallelism cost.

``--identities N`` builds a fraction (N of 64 identities) and extrapolates the wall time to the
demo size linearly in the number of clips (the fixed start-up cost is measured and added once).
The machine is shared: the load average is printed, and the CPU time is what does not depend on
other people's jobs.

Usage:  python benchmarks/build_synthetic.py [--identities 64] [--shards 2] [--threads 1]
        [--subdivide 1] [--out DIR] [--keep] [--results benchmarks/RESULTS-synthetic.md]

Not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEMO = {"identities": 64, "anchors": 2, "frames": 16, "image_size": 128, "views": 3}
EMOTION_COUNT = 7


def _load() -> str:
    try:
        return "/".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def _disk_usage(root: Path) -> tuple[int, int, int]:
    """(files, bytes of content, bytes allocated on disk) under ``root``."""
    files = size = allocated = 0
    for path in root.rglob("*"):
        if path.is_file():
            st = path.stat()
            files += 1
            size += st.st_size
            allocated += getattr(st, "st_blocks", 0) * 512
    return files, size, allocated


def baseline(subdivide: int, clips: int = 3) -> dict[str, float]:
    """The reenactor alone, one thread: images/s and the rasterizer's share of the time."""
    import torch

    torch.set_num_threads(1)
    from emoctl import render as render_module
    from emoctl.synthetic import SyntheticWorld, anchor_frames_for

    world = SyntheticWorld(0, subdivide=subdivide)
    t0 = time.perf_counter()
    _ = world.head
    head_s = time.perf_counter() - t0
    anchor = world.anchors(1, num_frames=anchor_frames_for(DEMO["frames"], 5.0), views=DEMO["views"],
                           image_size=DEMO["image_size"])[0].resample(5.0).window(0, DEMO["frames"])
    identity = world.identities(1, image_size=DEMO["image_size"])[0]
    reenactor = world.reenactor(DEMO["image_size"])
    reenactor.reenact(identity, anchor, "neutral")  # warm up (albedo, cue fields, FLAME layer)

    spent = [0.0]
    original = render_module.rasterize

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    render_module.rasterize = timed
    try:
        emotions = ["happy", "sad", "surprised", "angry", "disgusted", "fearful"][:clips]
        wall, cpu = time.perf_counter(), time.process_time()
        for emotion in emotions:
            reenactor.reenact(identity, anchor, emotion)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        render_module.rasterize = original
    images = len(emotions) * DEMO["frames"] * DEMO["views"]
    return {"images": images, "wall_s": wall, "cpu_s": cpu, "images_per_s": images / wall,
            "images_per_cpu_s": images / cpu, "rasterize_share": spent[0] / wall, "head_build_s": head_s,
            "gaussians": float(reenactor.head.num_vertices)}


def worker(args: argparse.Namespace) -> None:
    """One shard of the build (run as a subprocess)."""
    import torch

    torch.set_num_threads(args.threads)
    from emoctl.synthetic import build_synthetic_dataset

    build_synthetic_dataset(args.out, identities=args.identities, anchors=DEMO["anchors"], frames=DEMO["frames"],
                            image_size=DEMO["image_size"], views=DEMO["views"], config="appearance",
                            shard=(args.shard, args.shards), progress=False, seed=args.seed, subdivide=args.subdivide)


def build(args: argparse.Namespace, out: Path) -> dict[str, float]:
    from emoctl.data import merge_shards

    if out.exists():
        shutil.rmtree(out)
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = []
    for index in range(args.shards):
        cmd = [sys.executable, __file__, "--worker", "--shard", str(index), "--shards", str(args.shards),
               "--threads", str(args.threads), "--identities", str(args.identities), "--subdivide", str(args.subdivide),
               "--seed", str(args.seed), "--out", str(out)]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
        procs.append(subprocess.Popen(cmd, env=env))
    codes = [p.wait() for p in procs]
    if any(codes):
        raise SystemExit(f"a shard process failed: exit codes {codes}")
    if args.shards > 1:
        merge_shards(out, num_shards=args.shards)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    files, size, allocated = _disk_usage(out)
    clips = args.identities * DEMO["anchors"] * EMOTION_COUNT
    frames = clips * DEMO["frames"]
    return {"wall_s": wall, "cpu_s": cpu, "clips": clips, "frames": frames, "images": frames * DEMO["views"],
            "files": files, "bytes": size, "allocated": allocated}


def startup_cost(args: argparse.Namespace) -> float:
    """Seconds a shard process spends before its first clip: imports, head, anchors, identities."""
    code = (
        "import torch; torch.set_num_threads(1)\n"
        "from emoctl.synthetic import SyntheticWorld, anchor_frames_for\n"
        f"w = SyntheticWorld({args.seed}, subdivide={args.subdivide})\n"
        f"w.anchors({DEMO['anchors']}, num_frames=anchor_frames_for({DEMO['frames']}, 5.0), views={DEMO['views']}, image_size={DEMO['image_size']})\n"
        f"w.identities({args.identities}, image_size={DEMO['image_size']})\n"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return time.perf_counter() - started  # process start, imports, head, anchors, reference images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--identities", type=int, default=DEMO["identities"])
    parser.add_argument("--shards", type=int, default=2, help="processes (one shard each)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--subdivide", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the built dataset")
    parser.add_argument("--results", type=Path, default=None, help="also write the report (markdown) here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--shard", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    say(f"# emoctl.synthetic: building the demo dataset ({time.strftime('%Y-%m-%d %H:%M')})")
    say()
    say(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}; "
        f"load average at start {_load()}")
    say(f"demo size: {DEMO['identities']} identities x {DEMO['anchors']} anchors x {EMOTION_COUNT} emotions x "
        f"{DEMO['frames']} frames at {DEMO['image_size']}^2, {DEMO['views']} views (appearance config, PNG)")
    say(f"this run: {args.identities} identities, {args.shards} process(es) x {args.threads} thread(s), subdivide={args.subdivide}")
    say()

    base = baseline(args.subdivide)
    say("## Baseline: the reenactor alone (1 process, 1 thread, no files)")
    say(f"- {int(base['gaussians'])} Gaussians per frame; {base['images']} images in {base['wall_s']:.2f} s wall "
        f"({base['cpu_s']:.2f} s CPU): {base['images_per_s']:.1f} images/s ({base['images_per_cpu_s']:.1f} per CPU-second)")
    say(f"- rasterizer (emoctl.render.rasterize) share of the time: {100 * base['rasterize_share']:.0f}% "
        f"(the rest: FLAME skinning, normals, shading, albedo); head build {base['head_build_s']:.1f} s")
    say()

    out = args.out or Path(tempfile.mkdtemp(prefix="emoctl-synthetic-bench-")) / "demo"
    result = build(args, out)
    say(f"## Build: {result['clips']} clips, {result['frames']} frames, {result['images']} images")
    say(f"- wall {result['wall_s']:.1f} s ({result['wall_s'] / 60:.1f} min), CPU {result['cpu_s']:.1f} s; load average now {_load()}")
    say(f"- {result['clips'] / result['wall_s']:.2f} clips/s, {result['frames'] / result['wall_s']:.1f} frames/s, "
        f"{result['images'] / result['wall_s']:.1f} images/s")
    say(f"- ratio to the baseline x {args.shards} process(es): "
        f"{result['images'] / result['wall_s'] / (base['images_per_s'] * args.shards):.2f} (1.0 = perfect scaling, no I/O cost)")
    say(f"- size on disk: {result['files']} files, {result['bytes'] / 2**20:.1f} MiB of content "
        f"({result['allocated'] / 2**20:.1f} MiB allocated), {result['bytes'] / result['clips'] / 1024:.1f} KiB per clip")
    if args.identities != DEMO["identities"]:
        startup = startup_cost(args)
        scale = DEMO["identities"] / args.identities
        per_clip = max(result["wall_s"] - startup, 0.0) / result["clips"]
        demo_clips = DEMO["identities"] * DEMO["anchors"] * EMOTION_COUNT
        say()
        say(f"## Extrapolated to the demo size ({demo_clips} clips; linear in clips, start-up {startup:.1f} s once)")
        say(f"- wall ~ {startup + per_clip * demo_clips:.0f} s ({(startup + per_clip * demo_clips) / 60:.1f} min); "
            f"CPU ~ {result['cpu_s'] * scale:.0f} s; size ~ {result['bytes'] * scale / 2**20:.0f} MiB")
    if not args.keep and args.out is None:
        shutil.rmtree(out.parent, ignore_errors=True)
    if args.results is not None:
        args.results.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
