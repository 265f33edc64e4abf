"""What ``verify`` remembers of a dataset's emotion curves, to check curve clips against their anchors."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class CurveRecords:
    """The curve clips' names and the emotion curves read so far (anchors' and clips'), to compare them."""

    names: tuple[str, ...]
    num_emotions: int
    anchors: dict[tuple[str, str], torch.Tensor] = field(default_factory=dict)
    clips: dict[str, tuple[str, str, torch.Tensor]] = field(default_factory=dict)

    def check_against_anchors(self, problems: list[str]) -> None:
        """A problem for each curve clip whose weights differ from its anchor's curve."""
        for key, (anchor, name, weights) in self.clips.items():
            expected = self.anchors.get((anchor, name))
            if expected is not None and not torch.equal(weights, expected):
                frame = int((weights - expected).abs().amax(dim=1).argmax())
                problems.append(f"not synchronised: clip {key}: its emotion_curve differs from anchor {anchor}'s "
                                f"curve {name!r} (first at frame {frame})")
