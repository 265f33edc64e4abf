"""Learning curve for sizing the ``benchmark`` recipe: held-out PSNR against training identities.

No reference backbone exists yet (the next issue trains one), so this measures a cheap proxy of
"a model trained on this many identities generalises to identities it never saw":

- data: the synthetic world's appearance configuration at a small size (5 fps, ``--frames``
  frames per clip, the frontal view only, ``--size`` pixels), every emotion; the reference image
  of each identity as the input, the reenacted frames as targets;
- model: a small U-Net (about 0.65 M parameters at the default width) that maps the reference image plus the target
  frame's conditioning (its ground-truth FLAME expression, jaw, head, neck and eye pose, and the
  target emotion as a one-hot) to the target frame; the conditioning enters at the 8 x 8
  bottleneck as a learned spatial map, so the network has to move the mouth, brows and head
  itself and can only copy the identity's look from the reference;
- protocol (paper S2.1): train on the first N of the training identities x the training
  anchors; test on disjoint test identities x disjoint test anchors; the same number of
  optimiser steps for every N (a fixed compute budget); PSNR on the whole test set, and on a
  sample of training pairs (the gap shows memorisation).

Printed: one line per N with test PSNR, train PSNR and CPU seconds, and two baselines (the
reference image itself as the prediction; the mean training frame).

Usage:  python benchmarks/identity_curve.py [--counts 4 8 16 32 64] [--steps 1200] [--width 24] [--size 64]
        [--frames 8] [--train-anchors 2] [--test-identities 16] [--test-anchors 2] [--subdivide 1]
        [--results FILE]

Not a test: nothing here asserts a number. It is a proxy; re-check the sizing with the real
backbone once it exists.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

COND_KEYS = ("expr", "jaw_pose", "rotation", "neck_pose", "eyes_pose", "translation")
TEST_IDENTITY_START = 100_000  # test identities come from a range training never touches
FPS = 5.0


def render_split(world, identity_start: int, identities: int, anchor_start: int, anchors: int, frames: int,
                 size: int) -> dict[str, torch.Tensor]:
    """References ``[I, 3, S, S]``, targets ``[I, A, E, T, 3, S, S]`` (uint8) and conditions
    ``[I, A, E, T, C]`` of identities ``identity_start ..`` x anchors ``anchor_start ..``."""
    from emoctl.emotions import EMOTIONS
    from emoctl.synthetic import anchor_frames_for, default_rig, make_anchor
    from emoctl.synthetic.anchors import anchor_id, anchor_seed

    rig = default_rig(1, size)
    anchor_list = [
        make_anchor(anchor_id(j), anchor_seed(world.seed, j), num_frames=anchor_frames_for(frames, FPS), cameras=rig,
                    emotion_model=world.emotion_model).resample(FPS).window(0, frames)
        for j in range(anchor_start, anchor_start + anchors)
    ]
    people = world.identities(identities, image_size=size, start=identity_start)
    reenactor = world.reenactor(size)
    refs = torch.stack([torch.from_numpy(p.reference_image).permute(2, 0, 1) for p in people])
    targets = torch.empty(identities, anchors, len(EMOTIONS), frames, 3, size, size, dtype=torch.uint8)
    conds = torch.empty(identities, anchors, len(EMOTIONS), frames, 118 + len(EMOTIONS))
    for i, person in enumerate(people):
        for a, anchor in enumerate(anchor_list):
            for e, emotion in enumerate(EMOTIONS):
                clip = reenactor.reenact(person, anchor, emotion)
                targets[i, a, e] = torch.from_numpy(clip.frames[:, 0]).permute(0, 3, 1, 2)
                flame = torch.cat([clip.flame[k] for k in COND_KEYS], dim=1)
                onehot = F.one_hot(torch.tensor(e), len(EMOTIONS)).float().expand(frames, -1)
                conds[i, a, e] = torch.cat([flame, onehot], dim=1)
    return {"refs": refs, "targets": targets, "conds": conds}


class ProxyNet(nn.Module):
    """Reference image ``[B, 3, S, S]`` + conditioning ``[B, C]`` -> frame ``[B, 3, S, S]`` in [0, 1]."""

    def __init__(self, cond_dim: int, size: int, width: int = 32):
        super().__init__()
        w = width
        self.bottleneck = size // 8

        def block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(8, cout), nn.SiLU())

        self.e0 = block(3, w)
        self.e1 = block(w, w, 2)
        self.e2 = block(w, 2 * w, 2)
        self.e3 = block(2 * w, 4 * w, 2)
        self.cond = nn.Sequential(nn.Linear(cond_dim, 256), nn.SiLU(), nn.Linear(256, w * self.bottleneck**2))
        self.mid = nn.Sequential(block(5 * w, 4 * w), block(4 * w, 4 * w))
        self.d2 = block(4 * w + 2 * w, 2 * w)
        self.d1 = block(2 * w + w, w)
        self.d0 = block(w + w, w)
        self.out = nn.Conv2d(w, 3, 3, 1, 1)

    def forward(self, ref: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x0 = self.e0(ref)
        x1 = self.e1(x0)
        x2 = self.e2(x1)
        x3 = self.e3(x2)
        c = self.cond(cond).view(cond.shape[0], -1, self.bottleneck, self.bottleneck)
        h = self.mid(torch.cat([x3, c], 1))
        h = self.d2(torch.cat([F.interpolate(h, scale_factor=2.0), x2], 1))
        h = self.d1(torch.cat([F.interpolate(h, scale_factor=2.0), x1], 1))
        h = self.d0(torch.cat([F.interpolate(h, scale_factor=2.0), x0], 1))
        return torch.sigmoid(self.out(h))


def psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean PSNR (dB) over the batch, images in [0, 1]."""
    mse = ((pred - target) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(1.0 / mse)).mean())


def flat_pairs(split: dict[str, torch.Tensor], identities: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(identity index ``[P]``, target ``[P, 3, S, S]`` uint8, condition ``[P, C]``) of every pair."""
    targets, conds = split["targets"], split["conds"]
    if identities is not None:
        targets, conds = targets[:identities], conds[:identities]
    per = targets[0].numel() // targets[0, 0, 0, 0].numel()
    who = torch.arange(targets.shape[0]).repeat_interleave(per)
    return who, targets.reshape(-1, *targets.shape[-3:]), conds.reshape(-1, conds.shape[-1])


def evaluate(model: ProxyNet, refs: torch.Tensor, who: torch.Tensor, targets: torch.Tensor, conds: torch.Tensor,
             mean: torch.Tensor, std: torch.Tensor) -> float:
    model.eval()
    scores = []
    with torch.no_grad():
        for s in range(0, len(who), 256):
            sl = slice(s, s + 256)
            pred = model(refs[who[sl]].float() / 255, (conds[sl] - mean) / std)
            scores.append(psnr(pred, targets[sl].float() / 255) * len(who[sl]))
    model.train()
    return sum(scores) / len(who)


def train_curve_point(train: dict[str, torch.Tensor], test: dict[str, torch.Tensor], n: int, steps: int, batch: int,
                      seed: int, width: int) -> dict[str, float]:
    torch.manual_seed(seed)
    who, targets, conds = flat_pairs(train, n)
    mean, std = conds.mean(0), conds.std(0).clamp_min(1e-3)
    model = ProxyNet(conds.shape[1], targets.shape[-1], width)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(seed)
    cpu = time.process_time()
    for _ in range(steps):
        idx = torch.randint(len(who), (batch,), generator=gen)
        pred = model(train["refs"][who[idx]].float() / 255, (conds[idx] - mean) / std)
        loss = F.mse_loss(pred, targets[idx].float() / 255)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    cpu = time.process_time() - cpu
    t_who, t_targets, t_conds = flat_pairs(test)
    sample = torch.randperm(len(who), generator=gen)[: min(len(who), 1024)]
    return {
        "n": n,
        "test_psnr": evaluate(model, test["refs"], t_who, t_targets, t_conds, mean, std),
        "train_psnr": evaluate(model, train["refs"], who[sample], targets[sample], conds[sample], mean, std),
        "train_cpu_s": cpu,
        "pairs": len(who),
    }


def baselines(train: dict[str, torch.Tensor], test: dict[str, torch.Tensor]) -> dict[str, float]:
    t_who, t_targets, _ = flat_pairs(test)
    target = t_targets.float() / 255
    copy = psnr(test["refs"][t_who].float() / 255, target)
    _, tr_targets, _ = flat_pairs(train)
    mean_frame = (tr_targets.float() / 255).mean(0, keepdim=True).expand_as(target)
    return {"reference_copy": copy, "mean_frame": psnr(mean_frame, target)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--train-anchors", type=int, default=2)
    parser.add_argument("--test-identities", type=int, default=16)
    parser.add_argument("--test-anchors", type=int, default=2)
    parser.add_argument("--subdivide", type=int, default=1)
    parser.add_argument("--width", type=int, default=24, help="channels of the proxy's first level")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", type=Path, default=None, help="also write the printed lines here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from emoctl.synthetic import SyntheticWorld

    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    world = SyntheticWorld(args.seed, subdivide=args.subdivide)
    cpu = time.process_time()
    train = render_split(world, 0, max(args.counts), 0, args.train_anchors, args.frames, args.size)
    test = render_split(world, TEST_IDENTITY_START, args.test_identities, args.train_anchors, args.test_anchors,
                        args.frames, args.size)
    say(f"data: {max(args.counts)} training identities x {args.train_anchors} anchors, {args.test_identities} test "
        f"identities x {args.test_anchors} other anchors; 7 emotions x {args.frames} frames at 5 fps, frontal view, "
        f"{args.size}^2, subdivide={args.subdivide}; rendered in {time.process_time() - cpu:.0f} CPU-s")
    base = baselines(train, test)
    say(f"baselines on the test set: reference image as the prediction {base['reference_copy']:.2f} dB; "
        f"mean training frame {base['mean_frame']:.2f} dB")
    say(f"proxy: {sum(p.numel() for p in ProxyNet(125, args.size, args.width).parameters()) / 1e6:.2f} M parameters, "
        f"{args.steps} Adam steps of batch {args.batch} for every N")
    say("| training identities N | training pairs | test PSNR (unseen identities and anchors) | train PSNR | gap | CPU-s |")
    say("|---|---|---|---|---|---|")
    for n in args.counts:
        r = train_curve_point(train, test, n, args.steps, args.batch, args.seed, args.width)
        say(f"| {n} | {r['pairs']} | {r['test_psnr']:.2f} | {r['train_psnr']:.2f} | "
            f"{r['train_psnr'] - r['test_psnr']:.2f} | {r['train_cpu_s']:.0f} |")
    if args.results is not None:
        args.results.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
