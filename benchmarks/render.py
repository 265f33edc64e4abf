"""Benchmark of the PyTorch (CPU) Gaussian rasterizer of emoctl.render.

For 5k / 20k / 100k Gaussians at 256x256 and 512x512 it measures, on a head-like scene (a shell
of Gaussians the size of a head filling most of the frame, as LAM renders them):

* forward and forward+backward time (median of several runs; min in brackets),
* peak resident memory above the pre-call baseline, forward and forward+backward, each
  measured in a fresh process,
* the same times for a dense baseline (every Gaussian against every pixel, plain PyTorch
  autograd, processed in pixel chunks), where it fits the time limit, and the ratio
  dense / tiled measured in the same run, plus the largest pixel difference between the two.
  The dense baseline renders a band of rows through the middle of the image (1/8 by default)
  and its time is scaled to the whole image: its cost per pixel is the same everywhere.

Usage:  python benchmarks/render.py [--threads 2] [--sizes 5000,20000,100000] [--res 256,512]
        [--dense-limit 2e9] [--dense-fraction 0.125] [--quick]

Not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

import torch

# Targets from the issue (2 cores): (N, resolution) -> minimum frames per second.
TARGETS_FWD = {(20000, 256): 10.0, (20000, 512): 3.0}
TARGETS_FWD_BWD = {(20000, 256): 3.0}
TARGET_PEAK_MIB = {(100000, 512): 2048.0}


def head_scene(n: int, resolution: int, seed: int = 0):
    """``n`` Gaussians on an ellipsoid shell (~ a head) seen by one camera 5.2 units away with
    a 30 degree field of view; the same surface density scaling for every ``n``."""
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(n, 3, generator=g)
    d = d / d.norm(dim=-1, keepdim=True)
    means = d * torch.tensor([0.85, 1.1, 0.95])
    quats = torch.randn(n, 4, generator=g)
    scales = (torch.rand(n, 3, generator=g) * 0.022 + 0.008) * math.sqrt(20000 / n)
    opacities = torch.rand(n, generator=g) * 0.7 + 0.3
    colors = torch.rand(n, 3, generator=g)
    focal = resolution / 2 / math.tan(math.radians(15.0))
    K = torch.tensor([[focal, 0, resolution / 2], [0, focal, resolution / 2], [0, 0, 1.0]])
    view = torch.eye(4)
    view[2, 3] = 5.2
    return [means, quats, scales, opacities, colors, view[None], K[None]]


def dense_render(means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                 pixel_chunk: int, backward: bool, rows: tuple[int, int] | None = None):
    """Dense baseline: project with the library, then every Gaussian against every pixel with
    plain autograd, pixel chunk by pixel chunk (each chunk's backward runs right away, so the
    memory stays bounded). gsplat's rules (tile binning, thresholds, termination) included."""
    from emoctl.render.conventions import ALPHA_THRESHOLD, MAX_ALPHA, TILE_SIZE, TRANSMITTANCE_THRESHOLD
    from emoctl.render.projection import project_gaussians

    if backward:
        means, quats, scales, opacities, colors = (
            t.detach().clone().requires_grad_(True) for t in (means, quats, scales, opacities, colors)
        )
    proj = project_gaussians(means[None], quats[None], scales[None], opacities[None],
                             viewmats[None], Ks[None], width, height, 0.01, 1e10)
    valid = proj.valid[0, 0]
    order = torch.sort(proj.depths[0, 0][valid], stable=True).indices
    idx = valid.nonzero().squeeze(1)[order]
    m2d = proj.means2d[0, 0][idx]
    con = proj.conics[0, 0][idx]
    op = opacities[idx]
    col = colors[idx]
    rad = proj.radii[0, 0][idx].double()
    tiles_x, tiles_y = math.ceil(width / TILE_SIZE), math.ceil(height / TILE_SIZE)
    mean_d = m2d.detach().double()
    lo = torch.floor((mean_d - rad) / TILE_SIZE).clamp(min=0)
    hi = torch.ceil((mean_d + rad) / TILE_SIZE)
    hi = torch.minimum(hi, torch.tensor([tiles_x, tiles_y], dtype=torch.float64))
    row0, row1 = rows if rows is not None else (0, height)
    rows, cols = torch.meshgrid(torch.arange(row0, row1), torch.arange(width), indexing="ij")
    px_all = (cols.reshape(-1) + 0.5).to(m2d.dtype)
    py_all = (rows.reshape(-1) + 0.5).to(m2d.dtype)
    tx_all, ty_all = cols.reshape(-1) // TILE_SIZE, rows.reshape(-1) // TILE_SIZE
    out = []
    for s in range(0, width * (row1 - row0), pixel_chunk):
        sl = slice(s, s + pixel_chunk)
        tx, ty = tx_all[sl], ty_all[sl]
        in_tile = ((tx[None] >= lo[:, :1]) & (tx[None] < hi[:, :1])
                   & (ty[None] >= lo[:, 1:]) & (ty[None] < hi[:, 1:]))  # [G, p]
        dx = m2d[:, :1] - px_all[sl][None]
        dy = m2d[:, 1:] - py_all[sl][None]
        sigma = 0.5 * (con[:, :1] * dx * dx + con[:, 2:] * dy * dy) + con[:, 1:2] * dx * dy
        alpha = (op[:, None] * torch.exp(-sigma)).clamp(max=MAX_ALPHA)
        alpha = torch.where(in_tile & (alpha >= ALPHA_THRESHOLD) & (sigma >= 0), alpha, 0.0)
        t_incl = torch.cumprod(1 - alpha, dim=0)
        t_excl = torch.cat((torch.ones_like(t_incl[:1]), t_incl[:-1]), dim=0)
        w = alpha * t_excl * (t_incl > TRANSMITTANCE_THRESHOLD)
        img = torch.cat((w.t() @ col, w.sum(0)[:, None]), dim=-1)  # [p, D + 1]
        if backward:
            (img.square().sum()).backward(retain_graph=True)
            img = img.detach()
        out.append(img.detach())
    return torch.cat(out).reshape(row1 - row0, width, -1)


def tiled_render(args, width, height, backward: bool):
    from emoctl.render import rasterize

    ins = [a.clone().requires_grad_(backward and i < 5) for i, a in enumerate(args)]
    images, alphas = rasterize(*ins, width, height, backend="torch")
    out = torch.cat((images, alphas), dim=-1)
    if backward:
        out.square().sum().backward()
    return out[0].detach()  # [H, W, D + 1] of the only camera


#: The clock of the measurements: wall-clock time, or (``--clock cpu``, one thread only) the CPU
#: time of the calling thread, which other processes on a shared machine do not inflate.
CLOCK = time.perf_counter


def _timed(fn, reps: int) -> list[float]:
    times = []
    for _ in range(reps):
        t = CLOCK()
        fn()
        times.append(CLOCK() - t)
    return times


def _vm(field: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            return int(re.search(rf"{field}:\s+(\d+)", fh.read()).group(1)) / 1024.0  # MiB
    except OSError:
        return None


def _peak_above_baseline(fn) -> float | None:
    """Peak resident memory (MiB) reached by ``fn()`` above the resident memory before it
    (Linux: resets the high-water mark through /proc/self/clear_refs)."""
    base = _vm("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        fn()
        return None
    fn()
    peak = _vm("VmHWM")
    return None if base is None or peak is None else peak - base


def child_tiled(n: int, res: int, reps: int) -> dict:
    """Fresh process: peak memory of the first forward and forward+backward, then timings."""
    args = head_scene(n, res)
    import emoctl.render  # noqa: F401  (imported outside the measured window)

    peak_f = _peak_above_baseline(lambda: tiled_render(args, res, res, False))
    peak_fb = _peak_above_baseline(lambda: tiled_render(args, res, res, True))
    tiled_render(args, res, res, True)  # warm-up
    fwd = _timed(lambda: tiled_render(args, res, res, False), reps)
    fb = _timed(lambda: tiled_render(args, res, res, True), reps)
    return {"fwd": fwd, "fb": fb, "peak_f": peak_f, "peak_fb": peak_fb}


def child_dense(n: int, res: int, fraction: float) -> dict:
    """Fresh process: dense forward and forward+backward over a band of ``fraction`` of the
    image rows through the middle of the image (the dense cost per pixel does not depend on the
    pixel: every Gaussian is evaluated everywhere), scaled to the full image; and the largest
    difference between the dense and the tiled pixels of that band."""
    args = head_scene(n, res)
    chunk = max(256, int(2e7 // n))
    band = max(1, round(res * fraction))
    rows = ((res - band) // 2, (res - band) // 2 + band)
    scale = res / band
    with torch.no_grad():
        fwd = _timed(lambda: dense_render(*args, res, res, chunk, False, rows), 1)
        dense_img = dense_render(*args, res, res, chunk, False, rows)
    fb = _timed(lambda: dense_render(*args, res, res, chunk, True, rows), 1)
    tiled = tiled_render(args, res, res, False)[rows[0]:rows[1]]
    diff = (dense_img - tiled).abs().max().item()
    return {"fwd": [fwd[0] * scale], "fb": [fb[0] * scale], "diff": diff}


def _run_child(kind: str, n: int, res: int, reps: int, threads: int,
               fraction: float = 1.0) -> dict:
    cmd = [sys.executable, __file__, "--child", f"{kind},{n},{res},{reps},{fraction}",
           "--threads", str(threads), "--clock", "cpu" if CLOCK is time.thread_time else "wall"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} {n}@{res} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="5000,20000,100000")
    parser.add_argument("--res", default="256,512")
    parser.add_argument("--dense-limit", type=float, default=2e9,
                        help="run the dense baseline when N * H * W is at most this")
    parser.add_argument("--dense-fraction", type=float, default=0.125,
                        help="fraction of the image rows the dense baseline renders (its time is "
                             "scaled to the full image)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall-clock time, or the CPU time of the (single) rendering thread; "
                             "'cpu' needs --threads 1")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.clock == "cpu" and opts.threads != 1:
        parser.error("--clock cpu measures one thread: use it with --threads 1")
    global CLOCK
    CLOCK = time.thread_time if opts.clock == "cpu" else time.perf_counter
    torch.set_num_threads(opts.threads)
    if opts.child:
        kind, n, res, reps, fraction = opts.child.split(",")
        result = (child_tiled(int(n), int(res), int(reps)) if kind == "tiled"
                  else child_dense(int(n), int(res), float(fraction)))
        print(json.dumps(result))
        return

    print(f"emoctl.render CPU rasterizer benchmark: torch {torch.__version__}, "
          f"{opts.threads} threads, {platform.machine()}, {os.cpu_count()} CPUs visible; "
          f"{'CPU time of the rendering thread' if opts.clock == 'cpu' else 'wall-clock time'}; "
          "float32; head-like scene, one camera; each measurement in a fresh process")
    if hasattr(os, "getloadavg"):
        print(f"load average at the start (1/5/15 min): {os.getloadavg()}")
    header = (f"{'N':>7} {'res':>4} | {'fwd ms':>15} {'fps':>6} | {'fwd+bwd ms':>15} {'fps':>6} | "
              f"{'peak MiB f/fb':>13} | {'dense fwd ms':>12} {'x':>6} | {'dense f+b ms':>12} "
              f"{'x':>6} | {'max|diff|':>9}")
    print(header)
    print("-" * len(header))
    notes = []
    for res in (int(r) for r in opts.res.split(",")):
        for n in (int(s) for s in opts.sizes.split(",")):
            big = n * res * res > 20000 * 512 * 512
            reps = (1 if big else 2) if opts.quick else (3 if big else 7)
            tiled = _run_child("tiled", n, res, reps, opts.threads)
            f_med, fb_med = statistics.median(tiled["fwd"]), statistics.median(tiled["fb"])
            row = (f"{n:>7} {res:>4} | {f_med * 1e3:>7.1f} ({min(tiled['fwd']) * 1e3:>5.1f}) "
                   f"{1 / f_med:>6.2f} | {fb_med * 1e3:>7.1f} ({min(tiled['fb']) * 1e3:>5.1f}) "
                   f"{1 / fb_med:>6.2f} | ")
            mem_f, mem_fb = tiled["peak_f"], tiled["peak_fb"]
            row += (f"{mem_f:>6.0f}/{mem_fb:<6.0f}" if mem_fb is not None else f"{'n/a':>13}") + " | "
            if n * res * res <= opts.dense_limit:
                dense = _run_child("dense", n, res, 1, opts.threads, opts.dense_fraction)
                row += (f"{dense['fwd'][0] * 1e3:>12.0f} {dense['fwd'][0] / f_med:>6.0f} | "
                        f"{dense['fb'][0] * 1e3:>12.0f} {dense['fb'][0] / fb_med:>6.0f} | "
                        f"{dense['diff']:>9.1e}")
            else:
                row += f"{'(skipped)':>12} {'':>6} | {'(skipped)':>12} {'':>6} | {'':>9}"
            print(row, flush=True)
            key = (n, res)
            if key in TARGETS_FWD:
                ok = 1 / f_med >= TARGETS_FWD[key]
                notes.append(f"target {n} @ {res}^2 forward >= {TARGETS_FWD[key]} fps: "
                             f"{1 / f_med:.2f} fps (median) -> {'met' if ok else 'MISSED'}")
            if key in TARGETS_FWD_BWD:
                ok = 1 / fb_med >= TARGETS_FWD_BWD[key]
                notes.append(f"target {n} @ {res}^2 forward+backward >= {TARGETS_FWD_BWD[key]} fps: "
                             f"{1 / fb_med:.2f} fps (median) -> {'met' if ok else 'MISSED'}")
            if key in TARGET_PEAK_MIB and mem_fb is not None:
                peak = max(mem_f, mem_fb)
                ok = peak <= TARGET_PEAK_MIB[key]
                notes.append(f"target {n} @ {res}^2 peak memory <= {TARGET_PEAK_MIB[key]:.0f} MiB: "
                             f"{peak:.0f} MiB -> {'met' if ok else 'MISSED'}")
    print()
    if hasattr(os, "getloadavg"):
        print(f"load average at the end (1/5/15 min): {os.getloadavg()}; a busy machine inflates "
              "every time above (other processes take the cores the 2 threads wait for)")
    print("times: median (min) over repetitions; x = dense time / tiled median time (same run); "
          "dense times scaled from a band of rows; peak: resident memory above the pre-call baseline "
          "during the first call; max|diff|: dense vs tiled pixels of the band, both float32")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
