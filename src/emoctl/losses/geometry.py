"""The geometry modulation loss of the paper (supplement S1.1, eq. S1): parameter and surface terms.

The geometry branch predicts an emotion-aligned sequence of FLAME expression + jaw pose parameters
``pred [B, T, E + 3]`` (``E + 3 = 103`` for FLAME, packed by :mod:`emoctl.flame_schema`); it is
supervised against the ground-truth sequence ``target`` of the same content in the target emotion
"in the parameter and surface domains". The text we have loses the formula and the weight's value,
so the terms are the ones the demo has always trained with (squared errors)::

    total = weights.param * mean ||θ̂ - θ||²  +  weights.vertex * mean ||V(θ̂) - V(θ)||²_mm

- ``param``: mean squared error over every frame and value of the packed parameters;
- ``vertex_mm2``: squared Euclidean distance between predicted and target vertices, in mm², averaged
  over the vertices and over ``vertex_frames`` frames drawn at random (all frames when None).
  Vertices come from ``flame``: an :class:`emoctl.flame.FLAME` layer (every vertex of the mesh,
  shape ``betas`` optional, head pose, neck, eyes and translation at rest) or a
  :class:`VertexLoss` (the zero-shape head's vertices that an expression or the jaw moves, by a
  closed form that is much cheaper than the layer; what the demo uses). The two average over
  different vertex sets, so their values differ by about the share of moving vertices.

No mouth-region weighting: neither the paper's loss nor the demo's has one (the demo measures a
mouth error only when evaluating). Padded frames (``mask [B, T]`` bool, True = a real frame, as
:class:`emoctl.geometry.GeometryModulator` takes it) count in neither term. Every shape is checked
(:class:`~emoctl.errors.ShapeError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from emoctl.errors import ArgumentTypeError, ConfigError, ShapeError
from emoctl.flame.data import FlameModelData
from emoctl.flame.layer import FLAME
from emoctl.flame_schema import FLAME_SCHEMA, FlameSchema, split_expression_jaw
from emoctl.losses._weights import WeightsConfig

#: mm per FLAME unit (FLAME meshes are in metres).
MM = 1000.0


@dataclass(frozen=True)
class GeometryLossWeights(WeightsConfig):
    """Weights of the geometry terms (0 turns a term off; it is then not computed).

    The defaults are the demo's (``param`` 1, ``vertex`` 0.05: one mm² of mean squared vertex
    error costs as much as 0.05 of parameter MSE), kept so that the demo's training numbers did not
    change when its loss moved here. They are not the paper's: its weight is lost in the text we
    have, and the demo chose its value without a recorded sweep, so tune it for other data.
    """

    param: float = 1.0
    vertex: float = 0.05

    kind = "geometry loss"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (self.param or self.vertex):
            raise ConfigError("GeometryLossWeights: every weight is 0, so there is no loss to compute")


class VertexLoss:
    """Vertices of expression + jaw parameters on a head model (zero shape and head pose), in mm.

    ``__call__(params [N, E + 3]) -> vertices [N, M, 3]`` for the ``M`` vertices (``moving [V]``
    bool) that an expression or the jaw moves. With every joint but the jaw at rest, FLAME's linear
    blend skinning reduces exactly to ``v + w_jaw * (R (v - J_jaw) + J_jaw - v)`` on the expression-
    and pose-corrected template ``v``, which is much cheaper than the full layer (checked against
    :class:`emoctl.flame.FLAME` in the tests).
    """

    JAW = 2

    def __init__(self, head: FlameModelData):
        expr_motion = head.exprdirs.norm(dim=(1, 2))
        jaw_weight = head.lbs_weights[:, self.JAW]
        self.moving = (expr_motion > 1e-2 * expr_motion.max()) | (jaw_weight > 1e-3)
        m = self.moving
        self.template = head.v_template[m].float()  # [M, 3]
        self.exprdirs = head.exprdirs[m].float()  # [M, 3, E]
        jaw_pose_dirs = slice(9 * (self.JAW - 1), 9 * self.JAW)
        self.posedirs = head.posedirs[m][..., jaw_pose_dirs].float()  # [M, 3, 9]
        self.jaw_weight = jaw_weight[m].float()[:, None]  # [M, 1]
        regressor = head.J_regressor[self.JAW].float()  # [V]
        self.joint_rest = regressor @ head.v_template.float()  # [3]
        self.joint_expr = torch.einsum("v,vce->ce", regressor, head.exprdirs.float())  # [3, E]

    @property
    def schema(self) -> FlameSchema:
        """The parameter sizes this head takes (``packed_dim`` = ``E + 3``)."""
        return FlameSchema(expression_dim=self.exprdirs.shape[-1])

    def __call__(self, params: Tensor) -> Tensor:
        from smplx.lbs import batch_rodrigues

        expr, jaw = split_expression_jaw(params)
        shaped = self.template + torch.einsum("ne,mce->nmc", expr, self.exprdirs)
        rot = batch_rodrigues(jaw)  # [N, 3, 3]
        eye = torch.eye(3, dtype=rot.dtype, device=rot.device)
        posed = shaped + torch.einsum("nk,mck->nmc", (rot - eye).reshape(-1, 9), self.posedirs)
        joint = (self.joint_rest + expr @ self.joint_expr.t())[:, None]  # [N, 1, 3]
        rotated = torch.einsum("nij,nmj->nmi", rot, posed - joint) + joint
        return (posed + self.jaw_weight * (rotated - posed)) * MM


def geometry_loss(
    pred: Tensor | Mapping[str, Tensor],
    target: Tensor | Mapping[str, Tensor],
    *,
    flame: FLAME | VertexLoss | None = None,
    betas: Tensor | None = None,
    weights: GeometryLossWeights | Mapping[str, float] = GeometryLossWeights(),
    vertex_frames: int | None = None,
    generator: torch.Generator | None = None,
    mask: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """``(total, terms)`` of predicted against target expression + jaw sequences (module docstring).

    ``pred``, ``target``: ``[B, T, E + 3]`` packed tensors of one shape, or FLAME parameter dicts
    with ``expr [B, (T,) E]`` and ``jaw_pose [B, (T,) 3]`` (other entries are not used; without a
    frame axis ``T`` is 1). ``E`` is ``flame``'s expression size (FLAME: 100). ``flame``: the vertex
    source, needed when ``weights.vertex > 0``. ``betas [B, S']``: identity shapes for a FLAME layer
    (zeros when None). ``vertex_frames``: how many real frames the vertex term draws, without
    replacement, with ``torch.randperm(n, generator=generator)`` (None: every real frame, in order).
    ``mask [B, T]`` bool: False marks padded frames, left out of both terms.

    ``terms``: ``param`` and, when its weight is not 0, ``vertex_mm2``, each unweighted and
    detached; ``total`` is differentiable with respect to ``pred``.
    """
    if not isinstance(weights, GeometryLossWeights):
        weights = GeometryLossWeights.from_json(weights)
    if flame is not None and not isinstance(flame, (FLAME, VertexLoss)):
        raise ArgumentTypeError(f"geometry_loss: flame must be an emoctl.flame.FLAME, a VertexLoss or None, got {type(flame).__name__}")
    if weights.vertex and flame is None:
        raise ConfigError(f"geometry_loss: the vertex weight is {weights.vertex} but no flame layer was given "
                          "(pass flame=, or weights with vertex=0)")
    schema = FLAME_SCHEMA if flame is None else flame.schema
    pred = _packed(pred, "pred", schema)
    target = _packed(target, "target", schema)
    if pred.shape[0] != target.shape[0]:
        raise ShapeError(f"geometry_loss: batch sizes differ: pred has {pred.shape[0]}, target {target.shape[0]}")
    if pred.shape[1] != target.shape[1]:
        raise ShapeError(f"geometry_loss: frame counts differ: pred has {pred.shape[1]}, target {target.shape[1]}")
    batch, frames, width = pred.shape
    if mask is not None and (not isinstance(mask, Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != (batch, frames)):
        got = f"{mask.dtype} {list(mask.shape)}" if isinstance(mask, Tensor) else type(mask).__name__
        raise ShapeError(f"geometry_loss: mask must be a bool tensor [B, T] = {[batch, frames]} (True = real frame), got {got}")
    _check_betas(betas, flame, batch)
    if vertex_frames is not None and (isinstance(vertex_frames, bool) or not isinstance(vertex_frames, int) or vertex_frames < 1):
        raise ConfigError(f"geometry_loss: vertex_frames must be an int >= 1 or None, got {vertex_frames!r}")

    terms: dict[str, Tensor] = {}
    total = None
    if weights.param:
        sq = (pred - target).square()
        if mask is None:
            terms["param"] = sq.mean()
        else:
            m = mask.unsqueeze(-1).to(sq.dtype)
            terms["param"] = (sq * m).sum() / (m.sum() * width).clamp_min(1.0)
        total = weights.param * terms["param"]
    if weights.vertex:
        flat_p, flat_t = pred.reshape(-1, width), target.reshape(-1, width)
        idx = _vertex_frame_index(mask, batch * frames, vertex_frames, generator)
        if idx is not None and idx.numel() == 0:
            terms["vertex_mm2"] = (pred * 0).sum()  # no real frame: nothing to compare, still differentiable
        else:
            rows = None if betas is None else betas.repeat_interleave(frames, dim=0)  # [B * T, S]
            if rows is not None and idx is not None:
                rows = rows[idx]
            sel_p = flat_p if idx is None else flat_p[idx]
            sel_t = flat_t if idx is None else flat_t[idx]
            diff = _vertices(flame, sel_p, rows) - _vertices(flame, sel_t, rows)
            terms["vertex_mm2"] = diff.square().sum(-1).mean()
        vertex = weights.vertex * terms["vertex_mm2"]
        total = vertex if total is None else total + vertex
    assert total is not None  # GeometryLossWeights refuses all-zero weights
    return total, {name: value.detach() for name, value in terms.items()}


def _packed(x: object, name: str, schema: FlameSchema) -> Tensor:
    """``x`` as a checked floating ``[B, T, E + 3]`` tensor (a FLAME dict is packed)."""
    if isinstance(x, Mapping):
        return schema.pack_expression_jaw(x)[0]
    if not isinstance(x, Tensor) or not x.is_floating_point():
        got = f"{x.dtype} tensor" if isinstance(x, Tensor) else type(x).__name__
        raise ShapeError(f"geometry_loss: {name} must be a floating tensor [B, T, {schema.packed_dim}] or a FLAME dict, got {got}")
    if x.dim() != 3 or x.shape[-1] != schema.packed_dim:
        raise ShapeError(f"geometry_loss: {name} must be [B, T, {schema.packed_dim}] (expression {schema.expression_dim} "
                         f"+ jaw 3), got {list(x.shape)}")
    return x


def _check_betas(betas: object, flame: object, batch: int) -> None:
    if betas is None:
        return
    if not isinstance(flame, FLAME):
        raise ConfigError("geometry_loss: betas shape the vertices of a FLAME layer; pass flame=FLAME(...) "
                          f"(got {type(flame).__name__}, which has no identity shape)")
    if not isinstance(betas, Tensor) or not betas.is_floating_point() or betas.dim() != 2 or betas.shape[0] != batch \
            or betas.shape[1] > flame.num_shape:
        got = list(betas.shape) if isinstance(betas, Tensor) else type(betas).__name__
        raise ShapeError(f"geometry_loss: betas must be a floating tensor [B, S] = [{batch}, <= {flame.num_shape}], got {got}")


def _vertex_frame_index(mask: Tensor | None, n: int, vertex_frames: int | None,
                        generator: torch.Generator | None) -> Tensor | None:
    """Flat frame indices ``[K]`` the vertex term uses (None: all ``n`` frames, in order)."""
    real = None if mask is None else mask.reshape(-1).nonzero().squeeze(1).cpu()
    if vertex_frames is None:
        return real
    count = n if real is None else real.numel()
    device = generator.device if generator is not None else "cpu"
    pick = torch.randperm(count, generator=generator, device=device)[:vertex_frames].cpu()
    return pick if real is None else real[pick]


def _vertices(flame: FLAME | VertexLoss, params: Tensor, betas: Tensor | None) -> Tensor:
    """``[N, M, 3]`` vertices in mm of packed ``params [N, E + 3]``."""
    if isinstance(flame, VertexLoss):
        return flame(params)
    expr, jaw = split_expression_jaw(params)
    inputs = {"expr": expr, "jaw_pose": jaw} if betas is None else {"expr": expr, "jaw_pose": jaw, "betas": betas}
    return flame(inputs).vertices * MM
