"""Front-to-back alpha compositing of binned Gaussians, with a hand-written backward pass.

The work is vectorised over (block, entry, pixel) and cut into chunks of blocks and segments of
entries with a bounded number of evaluations, so memory stays flat whatever the scene size.
Blocks whose pixels have all stopped (transmittance below the threshold) leave the loop early,
like gsplat's tiles. The backward pass applies the analytic gradient of the compositing
equations segment by segment; the forward pass keeps each segment's per-pixel quantities for it
while a memory budget lasts, and the backward pass recomputes the rest (from the transmittance
entering each segment, ``[blocks, pixels]``, which is always kept).

Per pixel and block, with entries ``k`` in depth order::

    alpha_raw_k = o_k exp(-sigma_k)                  (sigma: Mahalanobis half-distance)
    alpha_k     = min(MAX_ALPHA, alpha_raw_k)   if alpha_raw_k >= ALPHA_THRESHOLD   else 0
    T_k         = prod_{j <= k} (1 - alpha_j)        (T_0 = 1)
    keep_k      = T_k > TRANSMITTANCE_THRESHOLD      (a prefix of the entries)
    w_k         = keep_k (T_{k-1} - T_k) = keep_k alpha_k T_{k-1}
    color       = sum_k w_k c_k ,   alpha = sum_k w_k

``ln o_k - sigma_k`` is a quadratic polynomial in the pixel coordinates, evaluated for a whole
segment as one matrix product with a fixed 6-term pixel basis (coordinates relative to the block
centre, so the expansion stays well conditioned).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from emoctl.render.conventions import ALPHA_THRESHOLD, MAX_ALPHA, TRANSMITTANCE_THRESHOLD
from emoctl.render.tiles import BinPlan, Chunk, plan_chunks

#: ``ln(opacity)`` given to padding entries: ``exp`` of it is exactly zero in float32 and float64.
_PAD_LOG_OPACITY = -1.0e4

#: Entries with ``ln(opacity)`` above this may reach the alpha clamp (margin for rounding).
_CLAMP_LOG_OPACITY = math.log(MAX_ALPHA) - 1e-3

_LOG2_E = 1.0 / math.log(2.0)

#: Default number of (block, entry, pixel) evaluations per step: about 2 MiB per float32
#: intermediate, small enough to stay in the CPU's cache, large enough to amortise overhead.
DEFAULT_CHUNK_BUDGET = 1 << 19

#: Default number of entries per block evaluated before checking whether the block is done.
DEFAULT_SEGMENT = 64

#: Default memory (bytes) the forward pass may keep for the backward pass instead of having it
#: recompute every segment: enough for ~40M (block, entry, pixel) evaluations in float32.
DEFAULT_SAVE_BYTES = 512 * 2**20


def _pixel_basis(block_size: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``[P, 6]`` basis ``(1, x, y, x^2, y^2, xy)`` of the block's pixel centres (row-major),
    relative to the block centre."""
    offsets = torch.arange(block_size, dtype=dtype, device=device) + 0.5 - block_size / 2
    py, px = torch.meshgrid(offsets, offsets, indexing="ij")
    px, py = px.reshape(-1), py.reshape(-1)
    return torch.stack((torch.ones_like(px), px, py, px * px, py * py, px * py), dim=-1)


def _threshold_below(dtype: torch.dtype) -> float:
    """The largest value below ``ALPHA_THRESHOLD``: ``x > it`` is exactly ``x >= threshold``."""
    t = torch.tensor(ALPHA_THRESHOLD, dtype=dtype)
    return float(torch.nextafter(t, torch.zeros_like(t)))


class _Tables:
    """Per-render tables that every segment gathers from."""

    def __init__(self, means2d: Tensor, conics: Tensor, opacities: Tensor, colors: Tensor,
                 plan: BinPlan):
        dtype, device = means2d.dtype, means2d.device
        self.plan = plan
        self.pixels = plan.block_size**2
        self.channels = colors.shape[-1]
        self.num_gaussians = means2d.shape[0]
        pad = torch.zeros(1, 1, dtype=dtype, device=device)
        log_op = torch.log(opacities).unsqueeze(-1)
        # [G + 1, 6]: mx, my, a, b, c, ln(o); the last row is the padding entry.
        self.geometry = torch.cat(
            (torch.cat((means2d, conics, log_op), dim=-1),
             torch.cat((pad.expand(1, 5), pad + _PAD_LOG_OPACITY), dim=-1)), dim=0,
        )  # fmt: skip
        ones = torch.ones(colors.shape[0], 1, dtype=dtype, device=device)
        # [G + 1, D + 1]: colour and a constant 1 whose weighted sum is the alpha.
        self.colors_aug = torch.cat(
            (torch.cat((colors, ones), dim=-1), pad.expand(1, self.channels + 1)), dim=0
        )
        self.basis = _pixel_basis(plan.block_size, dtype, device)
        self.basis_t = self.basis.t().contiguous()
        s, ids = plan.block_size, plan.block_ids
        col = ids % plan.blocks_x
        row = torch.div(ids, plan.blocks_x, rounding_mode="floor") % plan.blocks_y
        self.block_centres = torch.stack((col * s + s / 2, row * s + s / 2), dim=-1).to(dtype)
        self.threshold_below = _threshold_below(dtype)

    def entries(self, starts: Tensor, counts: Tensor, start: int, stop: int) -> Tensor:
        """``[m, stop - start]`` Gaussian index of entries ``start:stop`` of ``m`` blocks
        (padding: ``num_gaussians``)."""
        ks = torch.arange(start, stop, device=starts.device)
        padding = ks.unsqueeze(0) >= counts.unsqueeze(1)
        idx = (starts.unsqueeze(1) + ks.unsqueeze(0)).masked_fill(padding, 0)
        return self.plan.entry_gaussian[idx].masked_fill(padding, self.num_gaussians)


@dataclass
class _Evaluation:
    """One segment's forward quantities; per-pixel tensors are ``[m, L, P]``."""

    gauss: Tensor  # [m, L]
    local_means: tuple[Tensor, Tensor]  # block-centred mx, my: [m, L]
    conic: tuple[Tensor, Tensor, Tensor]  # a, b, c: [m, L]
    colors: Tensor  # [m, L, D + 1]
    w: Tensor  # compositing weights
    t_incl: Tensor  # transmittance after each entry
    t_in: Tensor | None  # [m, P] transmittance before the segment (None: ones)
    # Only when evaluated for the backward pass:
    alpha: Tensor | None = None
    keep: Tensor | None = None  # 1.0 / 0.0; None when no pixel stops inside the segment
    clamp_rows: Tensor | None = None  # [n] flat entry indices whose opacity can reach the clamp
    unclamped: Tensor | None = None  # [n, P] 1.0 where those entries are below the clamp


def _shift_mul_(x: Tensor, t_incl: Tensor, t_in: Tensor | None) -> Tensor:
    """``x *= T_{k-1}`` in place (the transmittance before each entry)."""
    x[:, 1:].mul_(t_incl[:, :-1])
    if t_in is not None:
        x[:, 0].mul_(t_in)
    return x


def _evaluate(tables: _Tables, centres: Tensor, gauss: Tensor, t_in: Tensor | None,
              keep_alpha: bool = False) -> _Evaluation:
    """Evaluate one segment. With ``keep_alpha`` the result also carries everything the
    backward pass needs (alpha, masks), at the cost of two more passes."""
    m, length = gauss.shape
    p_count = tables.pixels
    geo = tables.geometry.index_select(0, gauss.reshape(-1)).view(m, length, 6)
    mx = geo[..., 0] - centres[:, 0:1]
    my = geo[..., 1] - centres[:, 1:2]
    a, b, c, log_op = geo[..., 2], geo[..., 3], geo[..., 4], geo[..., 5]
    p = a * mx + b * my
    r = c * my + b * mx
    k0 = log_op - 0.5 * (p * mx + r * my)
    # exp(x) = exp2(x log2 e); exp2 is about twice as fast on CPUs.
    coef = torch.stack((k0, p, r, -0.5 * a, -0.5 * c, -b), dim=-1).mul_(_LOG2_E)
    alpha_raw = (coef.view(m * length, 6) @ tables.basis_t).view(m, length, p_count).exp2_()
    alpha = F.threshold_(alpha_raw, tables.threshold_below, 0.0)  # in place
    # The clamp can only act on entries of opacity close to or above MAX_ALPHA: handle their rows.
    clamp_rows = unclamped = None
    if m * length > 0 and bool(log_op.max() > _CLAMP_LOG_OPACITY):
        clamp_rows = (log_op.reshape(-1) > _CLAMP_LOG_OPACITY).nonzero().squeeze(1)
        flat = alpha.view(m * length, p_count)
        rows = flat.index_select(0, clamp_rows)
        if keep_alpha:
            unclamped = (rows <= MAX_ALPHA).to(rows.dtype)
        flat.index_copy_(0, clamp_rows, rows.clamp_(max=MAX_ALPHA))
    t_incl = torch.rsub(alpha, 1.0).cumprod_(dim=1)
    if t_in is not None:
        t_incl.mul_(t_in.unsqueeze(1))
    keep = None
    if m * length > 0 and bool(t_incl[:, -1].min() <= TRANSMITTANCE_THRESHOLD):
        keep = torch.gt(t_incl, TRANSMITTANCE_THRESHOLD, out=torch.empty_like(t_incl))
    w = _shift_mul_(alpha.clone() if keep_alpha else alpha, t_incl, t_in)
    if keep is not None:
        w.mul_(keep)
    colors = tables.colors_aug.index_select(0, gauss.reshape(-1)).view(m, length, -1)
    ev = _Evaluation(gauss, (mx, my), (a, b, c), colors, w, t_incl, t_in)
    if keep_alpha:
        ev.alpha, ev.keep = alpha, keep
        ev.clamp_rows, ev.unclamped = clamp_rows, unclamped
    return ev


@dataclass
class _Segment:
    """What the backward pass needs to redo one segment of a chunk."""

    blocks: Tensor | None  # chunk-local indices of the blocks still running (None: all)
    start: int
    stop: int
    t_in: Tensor | None  # [m', P] transmittance entering the segment (None: all ones)
    saved: _Evaluation | None = None  # the forward evaluation, when memory allowed keeping it

    def saved_bytes(self) -> int:
        ev = self.saved
        if ev is None:
            return 0
        per_pixel = [ev.w, ev.t_incl, ev.alpha, ev.keep]
        return sum(t.numel() * t.element_size() for t in per_pixel if t is not None)


def _forward_chunk(tables: _Tables, chunk: Chunk, segment: int, out_t: Tensor,
                   record: bool, save_budget: list[int]) -> list[_Segment]:
    """Composite one chunk into ``out_t [num_blocks, D + 1, P]``.

    With ``record``, returns the chunk's segments for the backward pass, keeping their
    evaluations while ``save_budget[0]`` (bytes, decremented) lasts.
    """
    plan = tables.plan
    starts = plan.block_starts[chunk.first:chunk.stop]
    counts = plan.block_counts_t[chunk.first:chunk.stop]
    centres = tables.block_centres[chunk.first:chunk.stop]
    segments: list[_Segment] = []
    local: Tensor | None = None  # None: every block of the chunk
    t_in: Tensor | None = None
    acc: Tensor | None = None
    for start in range(0, chunk.length, segment):
        stop = min(start + segment, chunk.length)
        if start > 0:
            assert t_in is not None
            alive = (t_in > TRANSMITTANCE_THRESHOLD).any(dim=1)
            alive &= (counts if local is None else counts[local]) > start
            if not bool(alive.all()):
                idx = alive.nonzero().squeeze(1)
                local = idx if local is None else local[idx]
                t_in = t_in[idx]
            if local is not None and local.numel() == 0:
                break
        sel = (lambda t: t) if local is None else (lambda t: t[local])
        gauss = tables.entries(sel(starts), sel(counts), start, stop)
        # Keeping a segment costs about four per-pixel tensors of this size.
        save = record and save_budget[0] >= 4 * gauss.numel() * tables.pixels * out_t.element_size()
        ev = _evaluate(tables, sel(centres), gauss, t_in, keep_alpha=save)
        contrib = torch.bmm(ev.colors.transpose(1, 2), ev.w)  # [m', D + 1, P]
        if acc is None:
            acc = contrib
        else:
            acc.index_add_(0, local, contrib) if local is not None else acc.add_(contrib)
        if record:
            seg = _Segment(local, start, stop, t_in, ev if save else None)
            save_budget[0] -= seg.saved_bytes()
            segments.append(seg)
        t_in = ev.t_incl[:, -1].clone()  # a copy: a view would keep all of t_incl alive
    if acc is not None:
        out_t.index_copy_(0, plan.block_ids[chunk.first:chunk.stop], acc)
    return segments


def _backward_chunk(tables: _Tables, chunk: Chunk, segments: list[_Segment], grad_t: Tensor,
                    grad_geo: Tensor, grad_col: Tensor) -> None:
    """Accumulate one chunk's gradients into ``grad_geo [G+1, 6]`` and ``grad_col [G+1, D]``.

    ``grad_t`` is ``[num_blocks, D + 1, P]``, the gradient of the premultiplied colour and alpha.
    """
    plan = tables.plan
    d = tables.channels
    starts = plan.block_starts[chunk.first:chunk.stop]
    counts = plan.block_counts_t[chunk.first:chunk.stop]
    centres = tables.block_centres[chunk.first:chunk.stop]
    grad_pix = grad_t.index_select(0, plan.block_ids[chunk.first:chunk.stop])  # [m, D+1, P]
    later = torch.zeros(grad_pix.shape[0], tables.pixels, dtype=grad_t.dtype,
                        device=grad_t.device)  # sum over later segments of w dL/dw
    for seg in reversed(segments):
        local = seg.blocks
        sel = (lambda t: t) if local is None else (lambda t: t[local])
        ev = seg.saved
        seg.saved = None  # free it as soon as possible
        if ev is None:
            gauss = tables.entries(sel(starts), sel(counts), seg.start, seg.stop)
            ev = _evaluate(tables, sel(centres), gauss, seg.t_in, keep_alpha=True)
        gauss = ev.gauss
        m, length = gauss.shape
        assert ev.alpha is not None
        g_pix = sel(grad_pix)
        # dL/dw_k = G . c_k + G_alpha, per pixel.
        grad_w = torch.bmm(ev.colors, g_pix)  # [m, L, P]
        grad_c = torch.bmm(g_pix[:, :d], ev.w.transpose(1, 2))  # [m, D, L]
        grad_col.index_add_(0, gauss.reshape(-1), grad_c.transpose(1, 2).reshape(m * length, d))
        # dL/dalpha_k = T_{k-1} dL/dw_k - (sum_{j>k} w_j dL/dw_j) / (1 - alpha_k), if kept.
        suffix = torch.mul(grad_w, ev.w).cumsum_(dim=1)
        total = suffix[:, -1] + sel(later)
        if local is None:
            later = total
        else:
            later[local] = total
        minus_after = suffix.sub_(total.unsqueeze(1)).div_(torch.rsub(ev.alpha, 1.0))
        grad_alpha = _shift_mul_(grad_w, ev.t_incl, ev.t_in).add_(minus_after)
        if ev.keep is not None:
            grad_alpha.mul_(ev.keep)
        # Through threshold and clamp (zero gradient where either acts), then
        # d alpha_raw / d (ln o - sigma) = alpha_raw (= alpha where neither acts).
        if ev.clamp_rows is not None:
            assert ev.unclamped is not None
            flat = grad_alpha.view(m * length, tables.pixels)
            flat.index_copy_(0, ev.clamp_rows,
                             flat.index_select(0, ev.clamp_rows).mul_(ev.unclamped))
        grad_poly = grad_alpha.mul_(ev.alpha)
        gk = (grad_poly.view(m * length, tables.pixels) @ tables.basis).view(m, length, 6)
        g0, g1, g2, g3, g4, g5 = gk.unbind(-1)
        mx, my = ev.local_means
        a, b, c = ev.conic
        p = a * mx + b * my
        r = c * my + b * mx
        grads = torch.stack((
            -g0 * p + g1 * a + g2 * b,                        # mx
            -g0 * r + g1 * b + g2 * c,                        # my
            -0.5 * g0 * mx * mx + g1 * mx - 0.5 * g3,         # a
            -g0 * mx * my + g1 * my + g2 * mx - g5,           # b
            -0.5 * g0 * my * my + g2 * my - 0.5 * g4,         # c
            g0,                                               # ln o
        ), dim=-1)  # fmt: skip
        grad_geo.index_add_(0, gauss.reshape(-1), grads.view(m * length, 6))


class CompositeBlocks(torch.autograd.Function):
    """Autograd function: ``(means2d, conics, opacities, colors) -> [I, Hp, Wp, D + 1]``.

    The output holds the premultiplied colour (first ``D`` channels) and the alpha (last
    channel) of every pixel of the block-padded images.
    """

    @staticmethod
    def forward(ctx: Any, means2d: Tensor, conics: Tensor, opacities: Tensor, colors: Tensor,
                plan: BinPlan, budget: int, segment: int, save_bytes: int) -> Tensor:
        tables = _Tables(means2d, conics, opacities, colors, plan)
        chunks = plan_chunks(plan, tables.pixels, segment, budget)
        num_blocks = plan.num_images * plan.blocks_y * plan.blocks_x
        out_t = torch.zeros(num_blocks, tables.channels + 1, tables.pixels,
                            dtype=means2d.dtype, device=means2d.device)
        record = any(ctx.needs_input_grad[:4])
        save_budget = [save_bytes]
        ctx.segments = [_forward_chunk(tables, chunk, segment, out_t, record, save_budget)
                        for chunk in chunks]
        ctx.save_for_backward(means2d, conics, opacities, colors)
        ctx.plan, ctx.chunks = plan, chunks
        return _blocks_to_image(out_t, plan)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        means2d, conics, opacities, colors = ctx.saved_tensors
        plan: BinPlan = ctx.plan
        tables = _Tables(means2d, conics, opacities, colors, plan)
        grad_t = _image_to_blocks(grad_out, plan)
        g = tables.num_gaussians
        dtype, device = means2d.dtype, means2d.device
        grad_geo = torch.zeros(g + 1, 6, dtype=dtype, device=device)  # mx, my, a, b, c, ln o
        grad_col = torch.zeros(g + 1, tables.channels, dtype=dtype, device=device)
        for chunk, segments in zip(ctx.chunks, ctx.segments):
            _backward_chunk(tables, chunk, segments, grad_t, grad_geo, grad_col)
        grad_geo, grad_col = grad_geo[:g], grad_col[:g]
        needs = ctx.needs_input_grad
        return (
            grad_geo[:, 0:2] if needs[0] else None,
            grad_geo[:, 2:5] if needs[1] else None,
            grad_geo[:, 5] / opacities if needs[2] else None,
            grad_col if needs[3] else None,
            None, None, None, None,
        )


def _blocks_to_image(blocks_t: Tensor, plan: BinPlan) -> Tensor:
    """``[I * by * bx, D, S * S]`` -> ``[I, by * S, bx * S, D]``."""
    s, d = plan.block_size, blocks_t.shape[1]
    img = blocks_t.view(plan.num_images, plan.blocks_y, plan.blocks_x, d, s, s)
    return img.permute(0, 1, 4, 2, 5, 3).reshape(
        plan.num_images, plan.blocks_y * s, plan.blocks_x * s, d)


def _image_to_blocks(image: Tensor, plan: BinPlan) -> Tensor:
    """Inverse of :func:`_blocks_to_image`: ``[I, Hp, Wp, D]`` -> ``[I * by * bx, D, S * S]``."""
    s, d = plan.block_size, image.shape[-1]
    blocks = image.reshape(plan.num_images, plan.blocks_y, s, plan.blocks_x, s, d)
    return blocks.permute(0, 1, 3, 5, 2, 4).reshape(-1, d, s * s)


def composite(means2d: Tensor, conics: Tensor, opacities: Tensor, colors: Tensor,
              plan: BinPlan, budget: int = DEFAULT_CHUNK_BUDGET,
              segment: int = DEFAULT_SEGMENT, save_bytes: int = DEFAULT_SAVE_BYTES) -> Tensor:
    """Composite binned Gaussians into block-padded images.

    Args:
        means2d: ``[G, 2]``; conics: ``[G, 3]``; opacities: ``[G]`` (all > 0); colors: ``[G, D]``.
        plan: the binning of these Gaussians (:func:`emoctl.render.tiles.bin_gaussians`).
        budget: evaluations per step (bounds memory).
        segment: entries per block evaluated between checks for finished blocks.
        save_bytes: memory the forward pass may keep for the backward pass (per-pixel
            intermediates); beyond it, the backward pass recomputes them.

    Returns:
        ``[I, Hp, Wp, D + 1]``: premultiplied colours and, last, the alpha.
    """
    return CompositeBlocks.apply(means2d, conics, opacities, colors, plan, budget, segment,
                                 save_bytes)
