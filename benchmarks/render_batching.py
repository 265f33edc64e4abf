"""Benchmark: does rendering a clip's frames x views in fewer rasterize calls make the CPU build faster?

For one appearance clip (16 frames x 3 views at 128^2) and one geometry clip (90 frames x 1 view), the
CPU time of three ways to render the same frames, and how many pixels differ from the first:

1. the reenactor as it is: for each chunk of ``chunk_frames`` (8) frames, pose and shade them, then
   one ``rasterize`` call per view with the Gaussians that view can see in some frame of the chunk;
2. the same with the whole clip as one chunk (one call per view);
3. every frame x view in one call: a ``[T, V]`` batch of images, each with its own view's Gaussians
   (padded to a common count with zero-opacity Gaussians, which the rasterizer culls exactly).

The minimum of ``--repeats`` runs (one thread) is reported; the machine may be shared.

Usage:  python benchmarks/render_batching.py [--repeats 3] [--subdivide 1]

Not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def render_all_at_once(reenactor, identity, anchor, emotion: str) -> np.ndarray:
    """Every frame x view of the clip in one ``rasterize`` call, per-view culling kept (variant 3)."""
    from emoctl.flame_schema import FRAME_KEYS
    from emoctl.media import to_uint8
    from emoctl.render import rasterize
    from emoctl.synthetic import IdentityTraits, scale_rig
    from emoctl.synthetic.mesh_ops import vertex_normals

    avatar = reenactor.avatar
    flame = {k: anchor.emotions[emotion][k] for k in FRAME_KEYS}
    albedo = reenactor.clip_albedo(IdentityTraits.from_json(identity.traits), emotion, 1.0)
    rig = scale_rig(anchor.cameras, *reenactor.image_size)
    views = rig.num_views
    viewmats = torch.linalg.inv(rig.c2w.double()).float()
    centres = rig.c2w[:, :3, 3]
    with torch.no_grad():
        verts = avatar.posed_vertices(flame, identity.betas)
        normals = vertex_normals(verts, avatar.faces)
        colors = avatar.shade(normals, albedo)
        scales = avatar.gaussian_scales(verts)
        hidden = torch.stack([avatar.hidden(verts, normals, centres[v]) for v in range(views)], 1)  # [T, V, N]
        keeps = [(~hidden[:, v].all(0)).nonzero().squeeze(1) for v in range(views)]
        n = max(len(k) for k in keeps)
        index = torch.stack([torch.cat([k, k.new_zeros(n - len(k))]) for k in keeps])  # [V, n]
        padding = torch.stack([torch.arange(n) >= len(k) for k in keeps])  # [V, n]
        t = torch.arange(verts.shape[0])[:, None, None]
        v = torch.arange(views)[None, :, None]
        opacity = torch.full((verts.shape[0], views, n), avatar.settings.opacity)
        opacity = opacity.masked_fill(hidden[t, v, index[None]] | padding[None], 0.0)
        quats = torch.zeros(n, 4)
        quats[:, 0] = 1.0
        images, _ = rasterize(verts[:, index], quats, scales[:, index], opacity, colors[:, index], viewmats[:, None],
                              rig.K[:, None], rig.width, rig.height,
                              backgrounds=torch.tensor(avatar.settings.background))  # [T, V, 1, H, W, 3]
    return to_uint8(images[:, :, 0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--subdivide", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from emoctl.synthetic import SyntheticWorld, anchor_frames_for

    world = SyntheticWorld(0, subdivide=args.subdivide)
    identity = world.identities(1, image_size=128)[0]
    for name, frames, views, fps in (("appearance", 16, 3, 5.0), ("geometry", 90, 1, 30.0)):
        anchor = world.anchors(1, num_frames=anchor_frames_for(frames, fps), views=views, image_size=128)[0]
        anchor = anchor.resample(fps).window(0, frames)
        variants = {
            "per view, 8 frames per call (as built)": lambda: world.reenactor(128, 8).reenact(identity, anchor, "sad").frames,
            "per view, the whole clip per call": lambda: world.reenactor(128, frames).reenact(identity, anchor, "sad").frames,
            "all frames x views in one call": lambda: render_all_at_once(world.reenactor(128, 8), identity, anchor, "sad"),
        }
        for fn in variants.values():  # warm up (albedo and cue fields cached per identity)
            fn()
        best: dict[str, float] = {}
        images: dict[str, np.ndarray] = {}
        for _ in range(args.repeats):
            for label, fn in variants.items():
                start = time.process_time()
                images[label] = fn()
                best[label] = min(best.get(label, float("inf")), time.process_time() - start)
        reference = images[next(iter(variants))]
        count = frames * views
        print(f"{name}: {frames} frames x {views} views at 128^2 ({count} images), minimum of {args.repeats} runs")
        for label in variants:
            diff = np.abs(images[label].astype(np.int16) - reference.astype(np.int16)).max(-1)
            print(f"- {label}: {best[label]:.2f} CPU-s ({1000 * best[label] / count:.1f} ms per image); pixels differing "
                  f"from the first: {np.count_nonzero(diff)} of {diff.size} ({100 * np.count_nonzero(diff) / diff.size:.2f}%), "
                  f"at most {int(diff.max())} level(s)")


if __name__ == "__main__":
    main()
