"""Benchmark: building the synthetic recipes (``emoctl.synthetic.recipes``) on 2 cores.

For one recipe (``--recipe tiny|demo|benchmark``), in one run:

1. where the time goes: one process, one thread, a few clips of each kind through the whole
   builder, with timers on the rasterizer (projection, binning, compositing), the rest of the
   reenactor (FLAME skinning, normals, shading, culling), PNG and MP4 encoding, hashing and the
   durable writes (``fsync``);
2. a timed build of a fraction of the recipe (``--fraction``: every split's identities scaled,
   at least 1; anchors, frames, views and image size as in the recipe), one kind at a time, with
   ``--shards`` processes of one torch thread each (the default 2: the 2 cores), each running
   ``build_recipe(..., shard=(i, n))`` as ``emoctl data build-synthetic --shard i/n`` does; the last
   shard merges. CPU time includes ffmpeg's;
3. the extrapolation to the whole recipe, per kind, linear in the number of clips: CPU seconds,
   wall time on 2 idle cores (CPU / 2 plus one process start-up: the shards share nothing but the
   read-only world), clips/s, and size on disk (frames, records, manifest).

The machine may be shared: the load average is printed; CPU time is what does not depend on other
people's jobs (it does inflate somewhat under contention, so the idle-core estimate is an upper bound).

Usage:  python benchmarks/build_synthetic.py --recipe benchmark [--fraction 0.1] [--shards 2]
        [--out DIR] [--keep] [--results FILE]

Not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

DEFAULT_FRACTION = {"tiny": 1.0, "demo": 0.25, "benchmark": 0.1}


def _load() -> str:
    try:
        return "/".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def scaled(name: str, fraction: float):
    """The recipe ``name`` with every split's identities scaled by ``fraction`` (at least 1)."""
    from emoctl.synthetic import SplitSizes, recipe

    chosen = recipe(name)
    if fraction == 1.0:
        return chosen
    parts = {}
    for kind in ("appearance", "geometry"):
        part = chosen.kind(kind)
        splits = {s: SplitSizes(max(1, round(z.identities * fraction)), z.anchors) for s, z in part.splits.items()}
        parts[kind] = replace(part, splits=splits)
    return replace(chosen, **parts)


def _size(count: float) -> str:
    return f"{count / 2**30:.2f} GiB" if count >= 2**30 else f"{count / 2**20:.1f} MiB"


def _disk_usage(root: Path) -> dict[str, int]:
    """Files, content bytes, allocated bytes under ``root``, and the bytes of its manifests."""
    out = {"files": 0, "bytes": 0, "allocated": 0, "manifest_bytes": 0}
    for path in root.rglob("*"):
        if path.is_file():
            st = path.stat()
            out["files"] += 1
            out["bytes"] += st.st_size
            out["allocated"] += getattr(st, "st_blocks", 0) * 512
            if path.name == "manifest.json":
                out["manifest_bytes"] += st.st_size
    return out


# --------------------------------------------------------------------------------------------- profile
def profile(name: str) -> dict[str, dict[str, float]]:
    """Seconds per stage for a few clips of each kind, one process, one thread (nested stages: the
    rasterizer's parts inside ``rasterize``, ``rasterize`` inside ``reenact``)."""
    import torch

    torch.set_num_threads(1)
    import emoctl.data.builder as builder
    import emoctl.data.writers as writers
    import emoctl.render as render
    raster = importlib.import_module("emoctl.render.rasterize")  # the module (the package exports a function of that name)
    from emoctl.synthetic import SyntheticWorld, build_synthetic_dataset, recipe

    chosen = recipe(name)
    spent: dict[str, float] = {}

    def timed(module, attr: str, label: str):
        original = getattr(module, attr)

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - start

        setattr(module, attr, wrapper)
        return module, attr, original

    results = {}
    world = SyntheticWorld(chosen.seed, subdivide=chosen.subdivide)
    for kind in ("appearance", "geometry"):
        part = chosen.kind(kind)
        # one identity x one anchor x 7 emotions: warm up on a first build, time a second one
        with tempfile.TemporaryDirectory() as tmp:
            build_synthetic_dataset(Path(tmp) / "warm", identities=1, anchors=1, frames=min(part.frames, 4),
                                    image_size=part.image_size, views=part.views, config=part.config(), progress=False,
                                    world=world)
            spent.clear()
            patches = [
                timed(render, "rasterize", "rasterize"),
                timed(raster, "project_gaussians", "projection"),
                timed(raster, "bin_gaussians", "binning"),
                timed(raster, "composite", "compositing"),
                timed(builder, "_make_clip", "clip (total)"),
                timed(writers, "encode_png", "PNG encoding"),
                timed(writers, "write_mp4", "MP4 encoding (ffmpeg)"),
                timed(writers, "write_durable", "writes + fsync"),
                timed(writers, "sha256_bytes", "hashing"),
            ]
            import emoctl.synthetic.reenactor as reenactor_module

            patches.append(timed(reenactor_module.SyntheticReenactor, "reenact", "reenact"))
            wall, cpu = time.perf_counter(), time.process_time()
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            build_synthetic_dataset(Path(tmp) / "timed", identities=1, anchors=1, frames=part.frames,
                                    image_size=part.image_size, views=part.views, config=part.config(),
                                    progress=False, world=world, identity_start=1, anchor_start=1)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent["build (total)"] = time.perf_counter() - wall
            spent["CPU of this process"] = time.process_time() - cpu
            spent["CPU of children (ffmpeg)"] = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
            for module, attr, original in patches:
                setattr(module, attr, original)
        results[kind] = dict(spent)
        results[kind]["images"] = 7 * part.frames * part.views
    return results


# --------------------------------------------------------------------------------------------- build
def worker(args: argparse.Namespace) -> None:
    """One shard of one kind of the scaled recipe (run as a subprocess)."""
    import torch

    torch.set_num_threads(1)
    from emoctl.synthetic import build_recipe

    build_recipe(scaled(args.recipe, args.fraction), args.out, kinds=(args.kind,), shard=(args.shard, args.shards),
                 progress=False)


def timed_build(args: argparse.Namespace, kind: str, out: Path) -> dict[str, float]:
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = []
    for index in range(args.shards):
        cmd = [sys.executable, __file__, "--worker", "--recipe", args.recipe, "--fraction", str(args.fraction),
               "--kind", kind, "--shard", str(index), "--shards", str(args.shards), "--out", str(out)]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        procs.append(subprocess.Popen(cmd, env=env))
    codes = [p.wait() for p in procs]
    if any(codes):
        raise SystemExit(f"a shard process failed: exit codes {codes}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    part = scaled(args.recipe, args.fraction).kind(kind)
    usage = _disk_usage(out / kind)
    return {"wall_s": wall, "cpu_s": cpu, "clips": part.clips(), "images": part.images(), **usage}


def startup_cost(args: argparse.Namespace, kind: str) -> float:
    """CPU seconds a shard process spends before its first clip (imports, head, anchors, identities)."""
    part = scaled(args.recipe, args.fraction).kind(kind)
    ident, anch = part.splits["train"].identities, part.splits["train"].anchors
    code = (
        "import time, torch; torch.set_num_threads(1)\n"
        "from emoctl.synthetic import SyntheticWorld, anchor_frames_for, recipe\n"
        f"r = recipe({args.recipe!r}); k = r.kind({kind!r}); w = SyntheticWorld(r.seed, subdivide=r.subdivide)\n"
        f"w.anchors({anch}, num_frames=anchor_frames_for(k.frames, k.config().fps), views=k.views, image_size=k.image_size)\n"
        f"w.identities({ident}, image_size=k.image_size)\n"
        "print(time.process_time())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="benchmark")
    parser.add_argument("--fraction", type=float, default=None, help="share of every split's identities to build")
    parser.add_argument("--shards", type=int, default=2, help="processes (one shard each, one thread each)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the built data")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--results", type=Path, default=None, help="also write the report (markdown) here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--kind", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--shard", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fraction is None:
        args.fraction = DEFAULT_FRACTION.get(args.recipe, 0.1)
    if args.worker:
        worker(args)
        return
    from emoctl.synthetic import recipe

    full = recipe(args.recipe)
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    say(f"# emoctl.synthetic: building the `{args.recipe}` recipe ({time.strftime('%Y-%m-%d %H:%M')})")
    say()
    say(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}; "
        f"load average at start {_load()}")
    for kind in ("appearance", "geometry"):
        part = full.kind(kind)
        sizes = ", ".join(f"{s} {z.identities} identities x {z.anchors} anchors" for s, z in part.splits.items())
        say(f"- {kind}: {part.config().fps:g} fps, {part.frames} frames, {part.views} views, {part.image_size}^2, "
            f"{part.config().frame_format}; {sizes}: {part.clips()} clips, {part.images()} images")
    say()

    if not args.skip_profile:
        say("## Where the time goes (1 process, 1 thread; one identity x one anchor x 7 emotions per kind)")
        say()
        for kind, spent in profile(args.recipe).items():
            total = spent["build (total)"]
            say(f"{kind}: {spent['images']} images, {total:.1f} s wall, {spent['CPU of this process']:.1f} s CPU "
                f"(+ {spent['CPU of children (ffmpeg)']:.1f} s in ffmpeg), {1000 * total / spent['images']:.1f} ms per image")
            for label in ("rasterize", "projection", "binning", "compositing", "reenact", "PNG encoding",
                          "MP4 encoding (ffmpeg)", "writes + fsync", "hashing"):
                if label in spent:
                    note = ""
                    if label == "reenact":
                        note = f" (of which not the rasterizer: {100 * (spent['reenact'] - spent['rasterize']) / total:.0f}%)"
                    indent = "    " if label in ("projection", "binning", "compositing") else "  "
                    say(f"{indent}- {label}: {spent[label]:.2f} s, {100 * spent[label] / total:.0f}%{note}")
            say()

    root = args.out or Path(tempfile.mkdtemp(prefix="emoctl-recipe-bench-")) / args.recipe
    if root.exists():
        shutil.rmtree(root)
    totals = {"cpu": 0.0, "wall": 0.0, "measured": 0.0, "bytes": 0.0, "manifest": 0.0, "files": 0.0}
    say(f"## Timed build of {args.fraction:g} of the identities, {args.shards} shard process(es) x 1 thread, then extrapolated")
    say()
    for kind in ("appearance", "geometry"):
        r = timed_build(args, kind, root)
        startup = startup_cost(args, kind)
        scale = full.kind(kind).clips() / r["clips"]
        cpu_full = startup * args.shards + (r["cpu_s"] - startup * args.shards) * scale
        idle_wall = cpu_full / args.shards
        say(f"{kind}: built {r['clips']} clips ({r['images']} images) in {r['wall_s']:.0f} s wall, {r['cpu_s']:.0f} s CPU "
            f"(load average now {_load()}): {r['clips'] / r['wall_s']:.2f} clips/s here, "
            f"{1000 * r['cpu_s'] / r['images']:.1f} ms CPU per image; shard start-up {startup:.1f} s CPU")
        say(f"- size: {r['files']} files, {_size(r['bytes'])} ({_size(r['allocated'])} allocated), "
            f"{r['bytes'] / r['clips'] / 1024:.0f} KiB per clip; manifests {r['manifest_bytes'] / 1024:.1f} KiB "
            f"({r['manifest_bytes'] / r['clips']:.0f} bytes per clip)")
        say(f"- whole recipe ({full.kind(kind).clips()} clips): ~{cpu_full:.0f} CPU-s, ~{idle_wall / 60:.1f} min on "
            f"{args.shards} idle cores ({full.kind(kind).clips() / idle_wall:.2f} clips/s; measured here: "
            f"~{r['wall_s'] * scale / 60:.1f} min), ~{_size(r['bytes'] * scale)} in ~{r['files'] * scale:.0f} files, "
            f"manifests ~{_size(r['manifest_bytes'] * scale)}")
        totals["cpu"] += cpu_full
        totals["wall"] += idle_wall
        totals["measured"] += r["wall_s"] * scale
        totals["bytes"] += r["bytes"] * scale
        totals["manifest"] += r["manifest_bytes"] * scale
        totals["files"] += r["files"] * scale
        say()
    say(f"**Whole `{args.recipe}` recipe: ~{totals['cpu']:.0f} CPU-s, ~{totals['wall'] / 60:.1f} min on {args.shards} idle "
        f"cores (measured here, extrapolated: ~{totals['measured'] / 60:.1f} min), ~{_size(totals['bytes'])} in "
        f"~{totals['files']:.0f} files (manifests ~{_size(totals['manifest'])}).**")
    if not args.keep and args.out is None:
        shutil.rmtree(root.parent, ignore_errors=True)
    if args.results is not None:
        args.results.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
