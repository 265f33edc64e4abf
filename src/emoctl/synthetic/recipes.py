"""Named dataset recipes of the synthetic world: ``tiny``, ``demo`` and ``benchmark``.

A :class:`Recipe` gives both of the paper's configurations (:class:`KindRecipe`):

- ``appearance`` (S1.2.2): 5 fps, short clips (16 frames), several views, many identities;
- ``geometry`` (S1.2.3): 30 fps, longer sentences, MP4, fewer identities;

each with three splits, ``train``, ``val`` and ``test`` (:class:`SplitSizes`), that share no
identity and no anchor (paper S2.1: evaluation identities and sequences are never seen in
training, and no anchor sequence used for synchronisation in training appears in evaluation).
Each split is its own dataset: ``OUT/<kind>/<split>/`` (a manifest each, built and merged like any
dataset); ``OUT/recipe.json`` records the recipe and the ids of every split.

Ids come from disjoint index ranges of one world (one ``seed``): identities ``[0, T)`` train,
``[T, T + V)`` val, ``[T + V, T + V + E)`` test, where ``T``, ``V``, ``E`` are the largest counts of
that split over both kinds (the geometry split takes the first identities of the appearance one),
and the same for anchors. So a model trained on both kinds' ``train`` never sees a ``val`` or
``test`` identity or anchor of either.

    from emoctl.synthetic import build_recipe, recipe
    build_recipe("benchmark", "data/bench", shard=(0, 2))       # one of 2 shard processes (recipe_build.py)
    recipe("benchmark").appearance.splits["train"].identities   # 128

The ``benchmark`` sizes come from measured learning curves and build times
(``benchmarks/RESULTS-build-synthetic.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from emoctl.data import DatasetConfig
from emoctl.errors import DataError

#: The splits of every recipe, in build order.
RECIPE_SPLITS = ("train", "val", "test")
#: The two configurations of the paper.
KINDS = ("appearance", "geometry")


@dataclass(frozen=True)
class SplitSizes:
    """How many identities and anchors one split has (the dataset is their full cross product x 7 emotions)."""

    identities: int
    anchors: int

    def __post_init__(self) -> None:
        for name in ("identities", "anchors"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DataError(f"SplitSizes.{name} must be a positive int, got {value!r}")

    @property
    def pairs(self) -> int:
        return self.identities * self.anchors


@dataclass(frozen=True)
class KindRecipe:
    """One configuration of a recipe: ``kind`` (``"appearance"`` / ``"geometry"``), clip ``frames`` at the
    kind's fps, ``views`` cameras (frontal, then +-30 degrees, ...), square ``image_size``, the
    ``splits`` (``train``, ``val``, ``test`` -> :class:`SplitSizes`) and ``curve_clips``: clips per
    (identity, anchor) whose emotion changes over the clip (``DatasetConfig.curve_clips``; None: the
    preset's, and not recorded in ``recipe.json``)."""

    kind: str
    frames: int
    views: int
    image_size: int
    splits: dict[str, SplitSizes] = field(default_factory=dict)
    curve_clips: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DataError(f"KindRecipe.kind must be one of {KINDS}, got {self.kind!r}")
        for name in ("frames", "views", "image_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DataError(f"KindRecipe.{name} must be a positive int, got {value!r}")
        if sorted(self.splits) != sorted(RECIPE_SPLITS):
            raise DataError(f"KindRecipe.splits must have exactly {list(RECIPE_SPLITS)}, got {sorted(self.splits)}")
        c = self.curve_clips
        if c is not None and (isinstance(c, bool) or not isinstance(c, int) or c < 0):
            raise DataError(f"KindRecipe.curve_clips must be an int >= 0 (or None), got {c!r}")

    def config(self) -> DatasetConfig:
        """The dataset config of this kind (the paper's preset with this recipe's clip length and size)."""
        preset = DatasetConfig.appearance if self.kind == "appearance" else DatasetConfig.geometry
        curves = {} if self.curve_clips is None else {"curve_clips": self.curve_clips}
        return preset(max_frames=self.frames, image_size=self.image_size, **curves)

    def clips(self, split: str | None = None) -> int:
        """Clips of one split (or of all three): pairs x (7 emotions + the config's curve clips)."""
        from emoctl.emotions import EMOTIONS

        chosen = RECIPE_SPLITS if split is None else (split,)
        return sum(self.splits[s].pairs for s in chosen) * (len(EMOTIONS) + self.config().curve_clips)

    def images(self, split: str | None = None) -> int:
        """Rendered images (clips x frames x views) of one split or of all three."""
        return self.clips(split) * self.frames * self.views


@dataclass(frozen=True)
class Recipe:
    """A named pair of configurations built from one world (``seed``, head ``subdivide``)."""

    name: str
    appearance: KindRecipe
    geometry: KindRecipe
    seed: int = 0
    subdivide: int = 1
    description: str = ""

    def kind(self, kind: str) -> KindRecipe:
        if kind not in KINDS:
            raise DataError(f"kind must be one of {KINDS}, got {kind!r}")
        return self.appearance if kind == "appearance" else self.geometry

    def starts(self, what: str) -> dict[str, int]:
        """The first index of each split's block of ``what`` (``"identities"`` / ``"anchors"``): blocks in
        :data:`RECIPE_SPLITS` order, each as large as that split's largest count over both kinds."""
        out, start = {}, 0
        for split in RECIPE_SPLITS:
            out[split] = start
            start += max(getattr(k.splits[split], what) for k in (self.appearance, self.geometry))
        return out

    def split_ids(self, kind: str, split: str) -> tuple[range, range]:
        """World indices ``(identities, anchors)`` of one kind's split."""
        sizes = self.kind(kind).splits[split]
        first_identity, first_anchor = self.starts("identities")[split], self.starts("anchors")[split]
        return (range(first_identity, first_identity + sizes.identities),
                range(first_anchor, first_anchor + sizes.anchors))

    def with_overrides(self, kinds: tuple[str, ...] = KINDS, **changes: Any) -> "Recipe":
        """This recipe with ``seed`` / ``subdivide`` and, for ``kinds``, any of ``frames``, ``views``,
        ``image_size``, ``curve_clips`` (every split's) and the *train* split's ``identities`` / ``anchors``
        replaced (values that are None are ignored). Validation and test splits keep their sizes."""
        top = {k: changes.pop(k) for k in ("seed", "subdivide") if changes.get(k) is not None}
        per_kind = {k: v for k, v in changes.items() if v is not None}
        unknown = sorted(set(per_kind) - {"frames", "views", "image_size", "curve_clips", "identities", "anchors"})
        if unknown:
            raise DataError(f"recipe overrides {unknown} are not recipe fields")
        train = {k: per_kind.pop(k) for k in ("identities", "anchors") if k in per_kind}
        parts = {}
        for kind in kinds:
            k = self.kind(kind)
            splits = {**k.splits, "train": replace(k.splits["train"], **train)} if train else k.splits
            parts[kind] = replace(k, splits=splits, **per_kind)
        return replace(self, **parts, **top)

    def to_json(self) -> dict[str, Any]:
        """The recipe and the ids of every split (``OUT/recipe.json``)."""
        from emoctl.synthetic.anchors import anchor_id
        from emoctl.synthetic.identities import identity_id

        kinds = {}
        for kind in KINDS:
            k = self.kind(kind)
            splits = {}
            for split in RECIPE_SPLITS:
                idents, anchors = self.split_ids(kind, split)
                splits[split] = {"identities": [identity_id(i) for i in idents], "anchors": [anchor_id(j) for j in anchors],
                                 "dir": f"{kind}/{split}"}
            kinds[kind] = {"config": k.config().to_json(), "frames": k.frames, "views": k.views,
                           "image_size": k.image_size, "splits": splits}
            if k.curve_clips is not None:  # only when overridden: earlier records stay as they were
                kinds[kind]["curve_clips"] = k.curve_clips
        return {"format": "emoctl-synthetic-recipe", "name": self.name, "seed": self.seed, "subdivide": self.subdivide,
                "kinds": kinds}


def _kind(kind: str, frames: int, views: int, image_size: int, train: tuple[int, int], val: tuple[int, int],
          test: tuple[int, int]) -> KindRecipe:
    sizes = {"train": SplitSizes(*train), "val": SplitSizes(*val), "test": SplitSizes(*test)}
    return KindRecipe(kind, frames, views, image_size, sizes)


#: The named recipes. ``(identities, anchors)`` per split.
RECIPES: dict[str, Recipe] = {
    "tiny": Recipe(
        "tiny",
        appearance=_kind("appearance", 4, 2, 32, train=(2, 1), val=(1, 1), test=(1, 1)),
        geometry=_kind("geometry", 6, 1, 32, train=(1, 1), val=(1, 1), test=(1, 1)),
        subdivide=0,
        description="seconds: a smoke test of the whole pipeline (coarse head, 32 x 32)",
    ),
    "demo": Recipe(
        "demo",
        appearance=_kind("appearance", 16, 3, 128, train=(16, 2), val=(4, 1), test=(4, 1)),
        geometry=_kind("geometry", 120, 1, 128, train=(4, 1), val=(1, 1), test=(2, 1)),
        description="minutes: enough to look at and to try a training loop on",
    ),
    "benchmark": Recipe(
        "benchmark",
        appearance=_kind("appearance", 16, 3, 128, train=(128, 2), val=(8, 1), test=(16, 1)),
        geometry=_kind("geometry", 180, 1, 128, train=(12, 1), val=(2, 1), test=(4, 1)),
        description="<= 30 min on 2 cores: 128 training identities, where the measured held-out PSNR curve "
        "(benchmarks/RESULTS-build-synthetic.md) gains less than 0.25 dB per doubling",
    ),
}


def recipe(name: str) -> Recipe:
    """The recipe called ``name`` (:data:`RECIPES`)."""
    if name not in RECIPES:
        raise DataError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return RECIPES[name]
