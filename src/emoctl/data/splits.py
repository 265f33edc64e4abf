"""Train / held-out splits by identity and by anchor (paper S2.1: evaluation never sees a training
identity or an anchor sequence used for training)."""

from __future__ import annotations

from collections import abc
from dataclasses import dataclass
from typing import Iterable, Sequence

from emoctl.data.tracking import stable_seed
from emoctl.errors import DataError

#: ``train``: train identities x train anchors; ``heldout``: held-out identities x held-out anchors;
#: ``heldout_identities``: held-out identities x train anchors; ``heldout_anchors``: train identities
#: x held-out anchors; ``all``: everything.
SPLITS = ("train", "heldout", "heldout_identities", "heldout_anchors", "all")

#: Each split as (identities, anchors): which side of the identity and of the anchor partition it takes.
_SPLIT_SIDES = {
    "train": ("train", "train"),
    "heldout": ("heldout", "heldout"),
    "heldout_identities": ("heldout", "train"),
    "heldout_anchors": ("train", "heldout"),
    "all": ("all", "all"),
}


@dataclass(frozen=True)
class SplitAssignment:
    """Which identities and anchors are held out (ids in manifest order)."""

    train_identities: tuple[str, ...]
    heldout_identities: tuple[str, ...]
    train_anchors: tuple[str, ...]
    heldout_anchors: tuple[str, ...]

    def members(self, split: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The (identities, anchors) whose product is ``split``."""
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
        identity_side, anchor_side = _SPLIT_SIDES[split]
        return (
            _side(identity_side, self.train_identities, self.heldout_identities),
            _side(anchor_side, self.train_anchors, self.heldout_anchors),
        )


def _side(side: str, train: tuple[str, ...], heldout: tuple[str, ...]) -> tuple[str, ...]:
    return {"train": train, "heldout": heldout, "all": train + heldout}[side]


def heldout_count(total: int, fraction: float) -> int:
    """How many of ``total`` ids a ``fraction`` holds out: rounded, at least 1 when ``fraction > 0``,
    and at most ``total - 1`` so that training keeps one."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
        raise DataError(f"a held-out fraction must be in [0, 1), got {fraction!r}")
    if fraction == 0 or total < 2:
        return 0
    return min(total - 1, max(1, round(fraction * total)))


def _choose(ids: Sequence[str], fraction: float, seed: int, kind: str, explicit: Iterable[str] | None) -> set[str]:
    if explicit is not None:
        given = list(explicit) if isinstance(explicit, abc.Iterable) and not isinstance(explicit, str) else None
        if given is None or not all(isinstance(i, str) for i in given):
            raise DataError(f"held-out {kind} ids must be a list of id strings, got {explicit!r}")
        chosen = set(given)
        unknown = sorted(chosen - set(ids))
        if unknown:
            raise DataError(f"held-out {kind} ids {unknown} are not in the dataset (it has {list(ids)})")
        return chosen
    ranked = sorted(ids, key=lambda i: (stable_seed("split", seed, kind, i), i))
    return set(ranked[: heldout_count(len(ids), fraction)])


def assign_splits(
    identity_ids: Sequence[str],
    anchor_ids: Sequence[str],
    *,
    heldout_identity_fraction: float = 0.1,
    heldout_anchor_fraction: float = 0.1,
    split_seed: int = 0,
    heldout_identities: Iterable[str] | None = None,
    heldout_anchors: Iterable[str] | None = None,
) -> SplitAssignment:
    """Hold out identities and anchors: the explicit lists when given, otherwise the ids ranked first
    by a stable hash of ``(split_seed, id)`` (independent of order and of the other ids' names)."""
    held_i = _choose(identity_ids, heldout_identity_fraction, split_seed, "identity", heldout_identities)
    held_a = _choose(anchor_ids, heldout_anchor_fraction, split_seed, "anchor", heldout_anchors)
    return SplitAssignment(
        train_identities=tuple(i for i in identity_ids if i not in held_i),
        heldout_identities=tuple(i for i in identity_ids if i in held_i),
        train_anchors=tuple(a for a in anchor_ids if a not in held_a),
        heldout_anchors=tuple(a for a in anchor_ids if a in held_a),
    )
