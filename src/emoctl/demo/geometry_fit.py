"""Fitting the geometry branch on synchronized anchors (paper S1.1, "geometry modulation loss").

Training pairs come from frame-synchronized anchors: the driving sequence is an anchor in a source
emotion, the label is a target emotion, and the ground truth is the *same frames* of the same
anchor in the target emotion. The loss is the paper's parameter-space term plus a surface term,
``||θ̂ - θ||² + λ_v ||V(θ̂) - V(θ)||²`` with vertices from the synthetic head's FLAME layer (in
millimetres, on the vertices that expressions move).

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
from emoctl.flame import FlameModelData
from emoctl.flame_schema import FLAME_SCHEMA, join_expression_jaw, split_expression_jaw
from emoctl.modulators import EmotionModulators

#: per anchor: emotion name -> expression + jaw pose ``[T, 103]``
AnchorParams = dict[str, torch.Tensor]


def pack_anchor(emotions: Mapping[str, Mapping[str, torch.Tensor]]) -> AnchorParams:
    """``{emotion: FLAME sequence}`` → ``{emotion: [T, 103]}`` (expression + jaw pose)."""
    return {e: join_expression_jaw(seq["expr"], seq["jaw_pose"]).float() for e, seq in emotions.items()}


class VertexLoss:
    """Vertices of expression + jaw parameters on a head model (zero shape and head pose), in mm.

    ``__call__(params [N, 103]) -> vertices [N, M, 3]`` for the ``M`` vertices that an expression
    or the jaw moves. With every joint but the jaw at rest, FLAME's linear blend skinning reduces
    exactly to ``v + w_jaw * (R (v - J_jaw) + J_jaw - v)`` on the expression- and pose-corrected
    template ``v``, which is much cheaper than the full layer (checked against
    :class:`emoctl.flame.FLAME` in the tests).
    """

    JAW = 2

    def __init__(self, head: FlameModelData):
        expr_motion = head.exprdirs.norm(dim=(1, 2))
        jaw_weight = head.lbs_weights[:, self.JAW]
        self.moving = (expr_motion > 1e-2 * expr_motion.max()) | (jaw_weight > 1e-3)
        m = self.moving
        self.template = head.v_template[m].float()  # [M, 3]
        self.exprdirs = head.exprdirs[m].float()  # [M, 3, 100]
        jaw_pose_dirs = slice(9 * (self.JAW - 1), 9 * self.JAW)
        self.posedirs = head.posedirs[m][..., jaw_pose_dirs].float()  # [M, 3, 9]
        self.jaw_weight = jaw_weight[m].float()[:, None]  # [M, 1]
        regressor = head.J_regressor[self.JAW].float()  # [V]
        self.joint_rest = regressor @ head.v_template.float()  # [3]
        self.joint_expr = torch.einsum("v,vce->ce", regressor, head.exprdirs.float())  # [3, 100]

    def __call__(self, params: torch.Tensor) -> torch.Tensor:
        from smplx.lbs import batch_rodrigues

        expr, jaw = split_expression_jaw(params)
        shaped = self.template + torch.einsum("ne,mce->nmc", expr, self.exprdirs)
        rot = batch_rodrigues(jaw)  # [N, 3, 3]
        eye = torch.eye(3, dtype=rot.dtype, device=rot.device)
        posed = shaped + torch.einsum("nk,mck->nmc", (rot - eye).reshape(-1, 9), self.posedirs)
        joint = (self.joint_rest + expr @ self.joint_expr.t())[:, None]  # [N, 1, 3]
        rotated = torch.einsum("nij,nmj->nmi", rot, posed - joint) + joint
        return (posed + self.jaw_weight * (rotated - posed)) * 1000.0


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


def geometry_loss(pred: torch.Tensor, target: torch.Tensor, vertices: VertexLoss | None, vertex_weight: float,
                  vertex_frames: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Parameter MSE plus ``vertex_weight`` × vertex MSE (mm²) on ``vertex_frames`` random frames."""
    param = (pred - target).square().mean()
    parts = {"param": param.item()}
    loss = param
    if vertices is not None and vertex_weight > 0:
        flat_p, flat_t = pred.reshape(-1, pred.shape[-1]), target.reshape(-1, target.shape[-1])
        idx = torch.randperm(flat_p.shape[0], generator=generator)[:vertex_frames]
        vert = (vertices(flat_p[idx]) - vertices(flat_t[idx])).square().sum(-1).mean()
        parts["vertex_mm2"] = vert.item()
        loss = loss + vertex_weight * vert
    return loss, parts


def fit_geometry(mods: EmotionModulators, train: Mapping[str, AnchorParams], *, steps: int, batch: int = 16,
                 window: int = 32, lr: float = 1e-3, vertex_weight: float = 0.05, vertex_frames: int = 64,
                 vertices: VertexLoss | None = None, seed: int = 0,
                 on_step: Callable[[int, float, dict], None] | None = None) -> list[dict]:
    """Train ``mods``' embedding and geometry branch on cross-emotion pairs; returns the history."""
    sampler = PairSampler(train, window, mods.vocabulary)
    mods.geometry.set_statistics(torch.cat([seq for anchor in train.values() for seq in anchor.values()]))
    gen = torch.Generator().manual_seed(seed)
    params = list(mods.trainable_parameters(parts="geometry"))
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    history = []
    mods.train()
    start = time.perf_counter()
    for step in range(steps):
        src, _, tgt_ids, tgt = sampler.sample(batch, gen)
        pred = mods.modulate_sequence(src, tgt_ids)
        loss, parts = geometry_loss(pred, tgt, vertices, vertex_weight, vertex_frames, gen)
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
