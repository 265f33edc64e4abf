"""The emotion vocabulary: an ordered tuple of names whose first entry is the neutral state.

Neutral is the all-zero label (paper S1.3.1): it has no row in the learnable embedding table, so a
vocabulary of K names gives K - 1 learnable emotion vectors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from emoctl.emotions._scalars import describe, integer_or_none
from emoctl.errors import EmotionLabelError, UnknownEmotionError

#: The seven emotions of the paper, neutral first.
EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "surprised", "angry", "disgusted", "fearful")

NEUTRAL = "neutral"


class Vocabulary(Sequence[str]):
    """An immutable, ordered list of emotion names; index 0 is the neutral (all-zero) state.

    Build one from a list of names (``Vocabulary(["neutral", "calm", "excited"])``) or from a
    count (``Vocabulary.from_spec(7)`` is :data:`EMOTIONS`; other counts get ``neutral``,
    ``emotion_1``, ...).
    """

    __slots__ = ("_names", "_index")

    def __init__(self, names: Iterable[str]):
        names = tuple(names)
        if len(names) < 2:
            raise EmotionLabelError(
                f"an emotion vocabulary needs at least 2 names (neutral and one emotion), got {names!r}"
            )
        for name in names:
            if not isinstance(name, str) or not name or name != name.strip():
                raise EmotionLabelError(
                    f"emotion names must be non-empty strings without surrounding spaces, got {name!r}"
                )
        lowered = [n.lower() for n in names]
        dupes = sorted({n for n in lowered if lowered.count(n) > 1})
        if dupes:
            raise EmotionLabelError(f"emotion names must be unique (case-insensitive); repeated: {dupes}")
        if NEUTRAL in lowered and lowered[0] != NEUTRAL:
            raise EmotionLabelError(
                f"'neutral' must be the first name of a vocabulary (it is the all-zero label); got {names!r}"
            )
        self._names = names
        self._index = {n: i for i, n in enumerate(lowered)}

    @classmethod
    def from_spec(cls, spec: "int | Iterable[str] | Vocabulary") -> "Vocabulary":
        """A vocabulary from an int (number of emotions, neutral included; numpy ints too), names,
        or a vocabulary."""
        if isinstance(spec, Vocabulary):
            return spec
        count = integer_or_none(spec)
        if count is not None:
            if count == len(EMOTIONS):
                return cls(EMOTIONS)
            if count < 2:
                raise EmotionLabelError(f"emotions={count}: need at least 2 (neutral and one emotion)")
            return cls((NEUTRAL, *(f"emotion_{i}" for i in range(1, count))))
        if isinstance(spec, str):
            raise EmotionLabelError(f"emotions must be an int or a list of names, got the string {spec!r}")
        if not isinstance(spec, Iterable) or getattr(spec, "ndim", None) == 0:
            raise EmotionLabelError(f"emotions must be an int or a list of names, got {describe(spec)}")
        return cls(spec)

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def neutral(self) -> str:
        """The name of the all-zero state (index 0)."""
        return self._names[0]

    def index(self, name: str) -> int:  # type: ignore[override]
        """The id of ``name`` (case-insensitive); :class:`UnknownEmotionError` lists the valid names."""
        try:
            return self._index[name.lower()]
        except (KeyError, AttributeError):
            raise UnknownEmotionError(
                f"unknown emotion {name!r}; this vocabulary has {list(self._names)}"
            ) from None

    def check_id(self, emotion_id: int) -> int:
        """``emotion_id`` (an int, numpy int or 0-d integer array/tensor) as an int after checking it
        is in ``[0, len(self))``; a float or a bool is refused, never truncated."""
        number = integer_or_none(emotion_id)
        if number is None:
            raise UnknownEmotionError(f"an emotion id must be an int, got {describe(emotion_id)}")
        if not 0 <= number < len(self._names):
            raise UnknownEmotionError(
                f"emotion id {number} is out of range: this vocabulary has ids 0..{len(self._names) - 1} "
                f"({list(self._names)})"
            )
        return number

    def __getitem__(self, i):  # type: ignore[override]
        return self._names[i]

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Vocabulary):
            return self._names == other._names
        if isinstance(other, (tuple, list)):
            return self._names == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._names)

    def __repr__(self) -> str:
        return f"Vocabulary({list(self._names)!r})"
