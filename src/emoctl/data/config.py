"""``DatasetConfig``: frame rate, clip length, frame storage and image size of a built dataset.

The paper builds two configurations (S1.2.2-S1.2.3): *appearance* (many identities, short clips,
5 fps) and *geometry* (fewer identities, long clips, 30 fps). Both are presets here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from emoctl.errors import DataError

FRAME_FORMATS = ("png", "mp4")


@dataclass(frozen=True)
class DatasetConfig:
    """Settings of a built dataset; recorded in its manifest, and shards must agree on them.

    ``kind``: a label (``"appearance"``, ``"geometry"`` or your own). ``fps``: anchors are resampled
    to it by the builder. ``max_frames``: clips keep at most the first ``max_frames`` frames of the
    resampled anchor (None: all). ``frame_format``: ``"png"`` (one lossless file per view per
    frame) or ``"mp4"`` (one H.264 file per view, lossy; for long clips). ``image_size``: ``(H, W)``
    (an int means square) that every reenacted frame must have. ``video_crf``: H.264 quality for MP4
    (0-51, lower is better). ``png_compress_level``: zlib level for PNG (0-9). ``curve_clips``: how
    many clips per (identity, anchor) whose emotion changes over the clip (the anchors' curves
    ``curve-0`` ...; see :class:`~emoctl.data.types.AnchorCurve`), besides one per emotion; 0 (the
    default) writes none and leaves the config's JSON as it was before the field existed.
    """

    kind: str = "custom"
    fps: float = 5.0
    max_frames: int | None = 16
    frame_format: str = "png"
    image_size: tuple[int, int] = (512, 512)
    video_crf: int = 18
    png_compress_level: int = 6
    curve_clips: int = 0

    def __post_init__(self) -> None:
        size = self.image_size
        if isinstance(size, int) and not isinstance(size, bool):
            size = (size, size)
        if (
            not isinstance(size, (tuple, list))
            or len(size) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)
        ):
            raise DataError(f"DatasetConfig.image_size must be a positive int or (H, W), got {self.image_size!r}")
        object.__setattr__(self, "image_size", (int(size[0]), int(size[1])))
        if not isinstance(self.kind, str) or not self.kind:
            raise DataError(f"DatasetConfig.kind must be a non-empty string, got {self.kind!r}")
        if isinstance(self.fps, bool) or not isinstance(self.fps, (int, float)) or not self.fps > 0:
            raise DataError(f"DatasetConfig.fps must be a positive number, got {self.fps!r}")
        object.__setattr__(self, "fps", float(self.fps))
        if self.max_frames is not None and (
            isinstance(self.max_frames, bool) or not isinstance(self.max_frames, int) or self.max_frames < 1
        ):
            raise DataError(f"DatasetConfig.max_frames must be None or an int >= 1, got {self.max_frames!r}")
        if self.frame_format not in FRAME_FORMATS:
            raise DataError(f"DatasetConfig.frame_format must be one of {FRAME_FORMATS}, got {self.frame_format!r}")
        if self.frame_format == "mp4" and any(s % 2 for s in self.image_size):
            raise DataError(f"DatasetConfig: mp4 frames (yuv420p) need an even image_size, got {self.image_size}")
        if not isinstance(self.video_crf, int) or not 0 <= self.video_crf <= 51:
            raise DataError(f"DatasetConfig.video_crf must be an int in 0..51, got {self.video_crf!r}")
        if not isinstance(self.png_compress_level, int) or not 0 <= self.png_compress_level <= 9:
            raise DataError(f"DatasetConfig.png_compress_level must be an int in 0..9, got {self.png_compress_level!r}")
        if isinstance(self.curve_clips, bool) or not isinstance(self.curve_clips, int) or self.curve_clips < 0:
            raise DataError(f"DatasetConfig.curve_clips must be an int >= 0, got {self.curve_clips!r}")

    @classmethod
    def appearance(cls, **overrides: Any) -> "DatasetConfig":
        """Paper S1.2.2: identity diversity, short clips at 5 fps (at most 16 frames), PNG frames."""
        return replace(cls(kind="appearance", fps=5.0, max_frames=16, frame_format="png"), **overrides)

    @classmethod
    def geometry(cls, **overrides: Any) -> "DatasetConfig":
        """Paper S1.2.3: long, temporally coherent clips at 30 fps (whole anchors), MP4 frames."""
        return replace(cls(kind="geometry", fps=30.0, max_frames=None, frame_format="mp4"), **overrides)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["image_size"] = list(self.image_size)
        if not self.curve_clips:  # datasets without curve clips keep their bytes
            del data["curve_clips"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "DatasetConfig":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise DataError(f"dataset config has unknown fields {unknown} (known: {sorted(known)})")
        values = dict(data)
        if "image_size" in values and isinstance(values["image_size"], list):
            values["image_size"] = tuple(values["image_size"])
        return cls(**values)
