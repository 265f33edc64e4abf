"""Building a recipe (:mod:`emoctl.synthetic.recipes`): one shard of every chosen kind and split.

``build_recipe(name, out, shard=(i, n))`` builds part ``i`` of ``n`` of each split
``out/<kind>/<split>/`` in turn, sharing one :class:`~emoctl.synthetic.world.SyntheticWorld`
(head, emotion model, renderer) between them, and merges a split's manifest when this shard is the
last of that split to finish. Run one process per shard, on one machine or as a cluster array job
(``emoctl data build-synthetic --recipe benchmark --out DIR --shard auto``); shards that ran on
different machines are merged with ``emoctl data merge out/<kind>/<split>`` once their folders are
copied together.

``out/recipe.json`` records the recipe with the ids of every split; a later build into the same
folder must use the same recipe (the same sizes and overrides), so the splits stay disjoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emoctl._files import atomic_write_bytes
from emoctl.data import BuildSummary, merge_if_complete, parse_shard
from emoctl.data.io import canonical_json, read_json, temporary_prefix
from emoctl.errors import DataError
from emoctl.synthetic.recipes import KINDS, RECIPE_SPLITS, Recipe, recipe
from emoctl.synthetic.world import SyntheticWorld, build_synthetic_dataset

#: The file that records the recipe of a recipe build (next to ``<kind>/``).
RECIPE_FILE = "recipe.json"


def _chosen(values: tuple[str, ...] | list[str], allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    if isinstance(values, str) or not values or any(v not in allowed for v in values):
        raise DataError(f"{what} must be a non-empty list of {list(allowed)}, got {values!r}")
    return tuple(v for v in allowed if v in values)  # in build order, each once


def check_or_write_recipe(root: Path, chosen: Recipe) -> None:
    """Write ``root/recipe.json``, or check that the one there records the same recipe."""
    record = chosen.to_json()
    path = root / RECIPE_FILE
    if path.exists():
        existing = read_json(path, "recipe record")
        if existing != record:
            differing = sorted(k for k in set(record) | set(existing if isinstance(existing, dict) else {})
                               if not isinstance(existing, dict) or existing.get(k) != record.get(k))
            raise DataError(
                f"{root} holds a build of a different recipe (fields {differing} differ from {path}); use the same "
                "recipe and overrides for every shard and split, or build into a new folder"
            )
        return
    atomic_write_bytes(path, canonical_json(record), skip_identical=True, tmp_prefix=temporary_prefix("recipe"))


def build_recipe(
    name: str | Recipe,
    out_dir: str | Path,
    *,
    kinds: tuple[str, ...] = KINDS,
    splits: tuple[str, ...] = RECIPE_SPLITS,
    shard: str | tuple[int, int] = (0, 1),
    progress: bool = True,
    chunk_frames: int = 8,
) -> dict[str, Any]:
    """Build shard ``shard`` (``(i, n)``, ``"i/n"`` or ``"auto"``) of every chosen kind and split of a recipe.

    Returns ``{"<kind>/<split>": BuildSummary, ...}`` and ``"merged"``: the splits whose
    ``manifest.json`` this call wrote (with one shard, every split; with ``n`` shards, the splits
    for which this was the last shard to finish).
    """
    chosen = recipe(name) if isinstance(name, str) else name
    if not isinstance(chosen, Recipe):
        raise DataError(f"build_recipe: expected a recipe name or a Recipe, got {type(name).__name__}")
    kinds = _chosen(kinds, KINDS, "kinds")
    splits = _chosen(splits, RECIPE_SPLITS, "splits")
    index, count = parse_shard(shard)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    check_or_write_recipe(root, chosen)
    world = SyntheticWorld(chosen.seed, subdivide=chosen.subdivide)
    out: dict[str, Any] = {"merged": []}
    for kind in kinds:
        part = chosen.kind(kind)
        for split in splits:
            identities, anchors = chosen.split_ids(kind, split)
            where = root / kind / split
            summary: BuildSummary = build_synthetic_dataset(
                where, identities=len(identities), anchors=len(anchors), identity_start=identities.start,
                anchor_start=anchors.start, frames=part.frames, image_size=part.image_size, views=part.views,
                config=part.config(), shard=(index, count), progress=progress, world=world, chunk_frames=chunk_frames,
            )
            out[f"{kind}/{split}"] = summary
            if summary.manifest_path is not None or merge_if_complete(where, count) is not None:
                out["merged"].append(f"{kind}/{split}")
    return out
