"""emoctl.data: the emotion-synchronised multi-identity dataset (paper 3.3, S1.2).

- the format: ``docs/dataset-format.md``; :class:`DatasetConfig` (appearance / geometry presets)
- building it: :func:`build_dataset` with a :class:`Reenactor` and a :class:`Tracker`
  (:class:`PassThroughTracker` included), resumable and sharded (:func:`parse_shard`: ``"i/n"`` or
  ``"auto"`` from a Slurm array or torchrun); :func:`merge_shards`
- checking it: :func:`verify` -> :class:`VerifyReport`
- reading it: :class:`SyncedEmotionDataset` (training pairs), :func:`assign_splits`

Importing this package is light: torch, numpy and the standard library; Pillow, safetensors,
tqdm and imageio-ffmpeg are imported where they are used.
"""

from emoctl.data.builder import BuildSummary, build_dataset
from emoctl.data.cameras import CameraRig, opencv_to_opengl, opengl_to_opencv
from emoctl.data.config import DatasetConfig
from emoctl.data.dataset import MODES, SyncedEmotionDataset
from emoctl.data.flame_params import FLAME_FRAME_KEYS, FLAME_IDENTITY_KEYS, FlameSequence, validate_flame_sequence
from emoctl.data.layout import SCHEMA_VERSION, curve_clip_names
from emoctl.data.manifest import load_manifest
from emoctl.data.merge import merge_if_complete, merge_shards
from emoctl.data.sharding import parse_shard, shard_from_environment
from emoctl.data.splits import SPLITS, SplitAssignment, assign_splits
from emoctl.data.tracking import PassThroughTracker, stable_seed
from emoctl.data.types import AnchorClip, AnchorCurve, Identity, ReenactedClip, Reenactor, Tracker
from emoctl.data.verify import VerifyReport, verify

__all__ = [
    "AnchorClip",
    "AnchorCurve",
    "BuildSummary",
    "CameraRig",
    "DatasetConfig",
    "FLAME_FRAME_KEYS",
    "FLAME_IDENTITY_KEYS",
    "FlameSequence",
    "Identity",
    "MODES",
    "PassThroughTracker",
    "ReenactedClip",
    "Reenactor",
    "SCHEMA_VERSION",
    "SPLITS",
    "SplitAssignment",
    "SyncedEmotionDataset",
    "Tracker",
    "VerifyReport",
    "assign_splits",
    "build_dataset",
    "curve_clip_names",
    "load_manifest",
    "merge_if_complete",
    "merge_shards",
    "opencv_to_opengl",
    "opengl_to_opencv",
    "parse_shard",
    "shard_from_environment",
    "stable_seed",
    "validate_flame_sequence",
]
