"""Fitting the geometry branch on synchronized anchors (paper S1.1, "geometry modulation loss").

Training pairs come from frame-synchronized anchors: the driving sequence is an anchor in a source
emotion, the label is a target emotion, and the ground truth is the *same frames* of the same
anchor in the target emotion. The loss is the paper's parameter-space term plus a surface term,
``||θ̂ - θ||² + λ_v ||V(θ̂) - V(θ)||²`` (:func:`emoctl.losses.geometry_loss`) with vertices from the
synthetic head (:class:`emoctl.losses.VertexLoss`: in millimetres, on the vertices that expressions
move).

Evaluation on held-out anchors compares predictions of the target sequence: the source as is
(what an emotion-unaware backbone does), two "subtract a constant" baselines, and the trained
modulator (see :func:`evaluate`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import torch

from emoctl.emotions import EMOTIONS
from emoctl.flame_schema import FLAME_SCHEMA, join_expression_jaw
from emoctl.losses.geometry import GeometryLossWeights, VertexLoss, geometry_loss
from emoctl.modulators import EmotionModulators

#: per anchor: emotion name -> expression + jaw pose ``[T, 103]``
AnchorParams = dict[str, torch.Tensor]


def pack_anchor(emotions: Mapping[str, Mapping[str, torch.Tensor]]) -> AnchorParams:
    """``{emotion: FLAME sequence}`` → ``{emotion: [T, 103]}`` (expression + jaw pose)."""
    return {e: join_expression_jaw(seq["expr"], seq["jaw_pose"]).float() for e, seq in emotions.items()}


class PairSampler:
    """Random (source emotion, target emotion, window) pairs from synchronized anchors."""

    def __init__(self, anchors: Mapping[str, AnchorParams], window: int, emotions=EMOTIONS):
        self.anchors = list(anchors.values())
        self.emotions = list(emotions)
        lengths = {a[self.emotions[0]].shape[0] for a in self.anchors}
        if min(lengths) < window:
            raise ValueError(f"window {window} is longer than the shortest anchor ({min(lengths)} frames)")
        self.window = window

    def sample(self, batch: int, generator: torch.Generator):
        """``(source [B, W, 103], source_ids [B], target_ids [B], target [B, W, 103])``."""
        k = len(self.emotions)
        src_ids = torch.randint(0, k, (batch,), generator=generator)
        tgt_ids = torch.randint(0, k, (batch,), generator=generator)
        srcs, tgts = [], []
        for b in range(batch):
            anchor = self.anchors[int(torch.randint(0, len(self.anchors), (1,), generator=generator))]
            length = anchor[self.emotions[0]].shape[0]
            start = int(torch.randint(0, length - self.window + 1, (1,), generator=generator))
            sl = slice(start, start + self.window)
            srcs.append(anchor[self.emotions[src_ids[b]]][sl])
            tgts.append(anchor[self.emotions[tgt_ids[b]]][sl])
        return torch.stack(srcs), src_ids, tgt_ids, torch.stack(tgts)


def constant_offsets(anchors: Mapping[str, AnchorParams], emotions=EMOTIONS) -> torch.Tensor:
    """The "subtract a constant" baseline: mean ``target - source`` per emotion pair ``[K, K, 103]``."""
    k = len(emotions)
    sums = torch.zeros(k, k, FLAME_SCHEMA.packed_dim)
    frames = 0
    for anchor in anchors.values():
        stacked = torch.stack([anchor[e] for e in emotions])  # [K, T, 103]
        sums += (stacked[None] - stacked[:, None]).sum(dim=2)
        frames += stacked.shape[1]
    return sums / frames


def fit_geometry(mods: EmotionModulators, train: Mapping[str, AnchorParams], *, steps: int, batch: int = 16,
                 window: int = 32, lr: float = 1e-3, vertex_weight: float = 0.05, vertex_frames: int = 64,
                 vertices: VertexLoss | None = None, seed: int = 0,
                 on_step: Callable[[int, float, dict], None] | None = None) -> list[dict]:
    """Train ``mods``' embedding and geometry branch on cross-emotion pairs; returns the history."""
    sampler = PairSampler(train, window, mods.vocabulary)
    mods.geometry.set_statistics(torch.cat([seq for anchor in train.values() for seq in anchor.values()]))
    gen = torch.Generator().manual_seed(seed)
    weights = GeometryLossWeights(vertex=vertex_weight if vertices is not None else 0.0)
    params = list(mods.trainable_parameters(parts="geometry"))
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    history = []
    mods.train()
    start = time.perf_counter()
    for step in range(steps):
        src, _, tgt_ids, tgt = sampler.sample(batch, gen)
        pred = mods.modulate_sequence(src, tgt_ids)
        loss, terms = geometry_loss(pred, tgt, flame=vertices, weights=weights, vertex_frames=vertex_frames, generator=gen)
        parts = {name: value.item() for name, value in terms.items()}
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        record = {"step": step, "loss": loss.item(), **parts, "seconds": time.perf_counter() - start}
        history.append(record)
        if on_step is not None:
            on_step(step, loss.item(), parts)
    mods.eval()
    return history


@torch.no_grad()
def evaluate(mods: EmotionModulators, heldout: Mapping[str, AnchorParams], offsets: torch.Tensor,
             vertices: VertexLoss, mouth: torch.Tensor | None = None, emotions=EMOTIONS, max_frames: int = 96) -> dict:
    """Held-out errors over all ordered emotion pairs of every held-out anchor.

    Methods: ``no modulation`` (the source as is), ``offset by target`` (source + the mean training
    difference into the target emotion, averaged over sources: the same information the modulator
    gets), ``offset by pair`` (source + the mean difference for this source and target: it is also
    told the source emotion), ``modulator``. ``offsets [K, K, 103]`` from :func:`constant_offsets`;
    ``mouth [M]`` bool over the moving vertices selects the mouth region for a second error.

    Returns ``{"methods": {name: {"param_rmse", "vertex_mm", "mouth_mm"}}, "per_target": {emotion:
    {name: vertex_mm}}}`` (vertex errors: mean Euclidean distance in mm).
    """
    by_target = offsets.mean(dim=0)  # [K, 103]
    names = ("no modulation", "offset by target", "offset by pair", "modulator")
    sq = {n: [] for n in names}
    vert = {n: [] for n in names}
    mouth_err = {n: [] for n in names}
    per_target = {e: {n: [] for n in names} for e in emotions}
    for anchor in heldout.values():
        clipped = {e: anchor[e][:max_frames] for e in emotions}
        verts = {e: vertices(p) for e, p in clipped.items()}  # each emotion's vertices, computed once
        for i, src_e in enumerate(emotions):
            for j, tgt_e in enumerate(emotions):
                if i == j:
                    continue
                src, tgt = clipped[src_e], clipped[tgt_e]
                preds = {
                    "no modulation": src,
                    "offset by target": src + by_target[j],
                    "offset by pair": src + offsets[i, j],
                    "modulator": mods.modulate_sequence(src[None], tgt_e)[0],
                }
                v_tgt = verts[tgt_e]
                for n, p in preds.items():
                    sq[n].append((p - tgt).square().mean())
                    v_pred = verts[src_e] if n == "no modulation" else vertices(p)
                    dist = (v_pred - v_tgt).norm(dim=-1)  # [T, M]
                    vert[n].append(dist.mean())
                    per_target[tgt_e][n].append(dist.mean())
                    if mouth is not None:
                        mouth_err[n].append(dist[:, mouth].mean())
    methods = {}
    for n in names:
        methods[n] = {"param_rmse": torch.stack(sq[n]).mean().sqrt().item(), "vertex_mm": torch.stack(vert[n]).mean().item()}
        if mouth is not None:
            methods[n]["mouth_mm"] = torch.stack(mouth_err[n]).mean().item()
    per = {e: {n: torch.stack(v).mean().item() for n, v in d.items()} for e, d in per_target.items()}
    return {"methods": methods, "per_target": per}
