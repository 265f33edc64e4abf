"""Binning of projected Gaussians into pixel blocks, depth sorting, and chunk planning.

gsplat decides which Gaussians a pixel sees by 16 x 16 tiles: a Gaussian is evaluated by every
pixel of every tile that its (opacity-aware) bounding box touches. The CPU rasterizer keeps
exactly that rule but works on smaller square *blocks* (``block_size`` divides 16): a block
receives a Gaussian only if the Gaussian is binned into the block's tile **and** the block can
contain a pixel where the Gaussian's alpha reaches ``ALPHA_THRESHOLD`` (such pixels are skipped
by the compositing rule anyway), so the result is the tile rule's result with less work.

Everything here is integer bookkeeping without gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from emoctl.render.conventions import TILE_SIZE


@dataclass
class BinPlan:
    """Which Gaussians each pixel block composites, front to back.

    Attributes:
        block_size: side of a block in pixels.
        blocks_x, blocks_y: blocks per image row / column (the padded image is
            ``blocks_y * block_size`` by ``blocks_x * block_size``).
        num_images: images rendered together (batch times cameras).
        entry_gaussian: ``[E]`` int64 index of the Gaussian of each (block, Gaussian) entry,
            entries grouped by block and sorted by depth inside a block.
        block_ids: ``[M]`` int64 global ids (``image * blocks_y * blocks_x + row * blocks_x +
            col``) of the blocks that have at least one entry, most entries first.
        block_starts: ``[M]`` int64 offset of each block's first entry in ``entry_gaussian``.
        block_counts: list of ``M`` ints, the number of entries of each block (descending).
        block_counts_t: the same counts as an ``[M]`` int64 tensor on the plan's device.
    """

    block_size: int
    blocks_x: int
    blocks_y: int
    num_images: int
    entry_gaussian: Tensor
    block_ids: Tensor
    block_starts: Tensor
    block_counts: list[int]
    block_counts_t: Tensor


def tile_grid(width: int, height: int, tile_size: int) -> tuple[int, int]:
    """Number of tiles ``(tiles_x, tiles_y)`` covering a ``width x height`` image."""
    return math.ceil(width / tile_size), math.ceil(height / tile_size)


def _depth_order(depths: Tensor) -> Tensor:
    """Indices sorting positive ``depths`` ascending, ties by index."""
    bits = {torch.float64: torch.int64, torch.float32: torch.int32}.get(depths.dtype)
    if bits is None or depths.numel() == 0 or not bool((depths > 0).all()):
        return torch.sort(depths, stable=True).indices
    return torch.sort(depths.contiguous().view(bits), stable=True).indices


@torch.no_grad()
def bin_gaussians(
    means2d: Tensor,
    radii: Tensor,
    extents: Tensor,
    depths: Tensor,
    image_ids: Tensor,
    num_images: int,
    width: int,
    height: int,
    block_size: int,
) -> BinPlan:
    """Bin visible Gaussians into pixel blocks.

    Args:
        means2d: ``[G, 2]`` pixel coordinates of the visible Gaussians.
        radii: ``[G, 2]`` gsplat bounding-box half widths (integers, > 0 in at least one axis).
        extents: ``[G, 2]`` half widths of the box outside which the Gaussian's alpha is below
            the threshold (conservative).
        depths: ``[G]`` camera-space depth (sort key).
        image_ids: ``[G]`` int64 image index of each Gaussian.
        num_images: total number of images.
        width, height: image size.
        block_size: block side in pixels; must divide :data:`TILE_SIZE`.

    Returns:
        A :class:`BinPlan`.
    """
    if TILE_SIZE % block_size:
        raise ValueError(f"block_size must divide {TILE_SIZE}, got {block_size}")
    device = means2d.device
    per_tile = TILE_SIZE // block_size
    tiles_x, tiles_y = tile_grid(width, height, TILE_SIZE)
    blocks_x, blocks_y = tiles_x * per_tile, tiles_y * per_tile
    # Blocks that contain at least one real pixel.
    used_x, used_y = tile_grid(width, height, block_size)

    mean = means2d.to(torch.float64)
    rad = radii.to(torch.float64)
    ext = extents.to(torch.float64)
    # gsplat's tile range: [floor((m - r) / 16), ceil((m + r) / 16)), clamped to the grid.
    tile_lo = torch.floor((mean - rad) / TILE_SIZE)
    tile_hi = torch.ceil((mean + rad) / TILE_SIZE)
    grid_tiles = torch.tensor([tiles_x, tiles_y], device=device, dtype=torch.float64)
    tile_lo = torch.minimum(tile_lo.clamp(min=0), grid_tiles)
    tile_hi = torch.minimum(tile_hi.clamp(min=0), grid_tiles)
    # Blocks whose pixel centres (b*S + 0.5 ... b*S + S - 0.5) meet [m - e, m + e].
    vis_lo = torch.ceil((mean - ext + 0.5) / block_size - 1.0)
    vis_hi = torch.floor((mean + ext - 0.5) / block_size) + 1.0
    grid_used = torch.tensor([used_x, used_y], device=device, dtype=torch.float64)
    lo = torch.maximum(tile_lo * per_tile, vis_lo).clamp(min=0)
    hi = torch.minimum(torch.minimum(tile_hi * per_tile, vis_hi), grid_used)
    span = (hi - lo).clamp(min=0).to(torch.int64)  # [G, 2]
    counts = span[:, 0] * span[:, 1]
    lo = lo.to(torch.int64)

    # Depth order, ties by index (gsplat sorts the bit patterns of the float depths with a
    # stable radix sort; for the positive depths that survive the near plane, integer order of
    # the bit pattern is float order, and integer sorts are much faster than float sorts).
    order = _depth_order(depths)
    counts = counts.index_select(0, order)
    lo = lo.index_select(0, order)
    span = span.index_select(0, order)
    images = image_ids.index_select(0, order)

    # One entry per (Gaussian, block), Gaussians in depth order.
    rep = torch.repeat_interleave(counts)
    num_entries = int(rep.shape[0])
    first = torch.cumsum(counts, 0) - counts
    local = torch.arange(num_entries, device=device) - first.index_select(0, rep)
    span_x = span[:, 0].clamp(min=1).index_select(0, rep)
    bx = lo[:, 0].index_select(0, rep) + local % span_x
    by = lo[:, 1].index_select(0, rep) + torch.div(local, span_x, rounding_mode="floor")
    block = (images.index_select(0, rep) * blocks_y + by) * blocks_x + bx
    # A stable sort by block keeps the depth order inside each block.
    key = block.to(torch.int32) if num_images * blocks_y * blocks_x < 2**31 else block
    perm = torch.sort(key, stable=True).indices
    entry_gaussian = order.index_select(0, rep.index_select(0, perm))
    entry_block = block.index_select(0, perm)

    block_ids, block_counts = torch.unique_consecutive(entry_block, return_counts=True)
    block_starts = torch.cumsum(block_counts, 0) - block_counts
    # Most entries first, so that blocks grouped into one chunk have similar lengths.
    by_count = torch.sort(block_counts, descending=True, stable=True).indices
    block_counts = block_counts[by_count]
    return BinPlan(
        block_size=block_size,
        blocks_x=blocks_x,
        blocks_y=blocks_y,
        num_images=num_images,
        entry_gaussian=entry_gaussian,
        block_ids=block_ids[by_count],
        block_starts=block_starts[by_count],
        block_counts=block_counts.tolist(),
        block_counts_t=block_counts,
    )


@dataclass
class Chunk:
    """Blocks ``first .. stop - 1`` of a :class:`BinPlan` (in its order), processed together;
    the longest has ``length`` entries."""

    first: int
    stop: int
    length: int


def plan_chunks(plan: BinPlan, pixels_per_block: int, segment: int, budget: int) -> list[Chunk]:
    """Group blocks so that one segment of ``segment`` entries of every block of a chunk costs at
    most ``budget`` (block, entry, pixel) evaluations (at least one block per chunk)."""
    counts = plan.block_counts
    chunks: list[Chunk] = []
    i, total = 0, len(counts)
    while i < total:
        length = counts[i]
        per_block = min(length, segment) * pixels_per_block
        take = min(total - i, max(1, budget // per_block))
        chunks.append(Chunk(i, i + take, length))
        i += take
    return chunks
