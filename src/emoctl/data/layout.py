"""Where each file of a dataset lives (relative POSIX paths from the dataset root).

::

    manifest.json                                   the index (written last, by merge)
    build.json                                      vocabulary, config and generator of the build
    shards/shard-<i>-of-<n>.json                    what shard i of n wrote (written when it finishes)
    identities/<identity>/identity.json             + reference.png (+ betas.safetensors)
    anchors/<anchor>/anchor.json                    + <emotion>.safetensors (ground-truth FLAME per emotion,
                                                    and per emotion curve: curve-<j>.safetensors)
    clips/<identity>/<anchor>/<emotion>/clip.json   + flame.safetensors, transforms.json, frames/...
                                                    (<emotion> is curve-<j> for a curve clip)
                                                    (+ flame_gt.safetensors when the reenactor knows it)

See ``docs/dataset-format.md`` for the contents of each file.
"""

from __future__ import annotations

#: Version of the on-disk format; readers refuse other versions. 2: the manifest lists one checksum per
#: clip (of its ``clip.json``, which holds the per-file checksums) instead of every file's.
SCHEMA_VERSION = 2
FORMAT_NAME = "emoctl-synced-emotion-dataset"

MANIFEST = "manifest.json"
BUILD_INFO = "build.json"
SHARDS_DIR = "shards"
IDENTITIES_DIR = "identities"
ANCHORS_DIR = "anchors"
CLIPS_DIR = "clips"

IDENTITY_JSON = "identity.json"
REFERENCE_IMAGE = "reference.png"
BETAS_FILE = "betas.safetensors"
ANCHOR_JSON = "anchor.json"
CLIP_JSON = "clip.json"
TRACKED_FLAME = "flame.safetensors"
GROUND_TRUTH_FLAME = "flame_gt.safetensors"
TRANSFORMS = "transforms.json"
FRAMES_DIR = "frames"


def shard_file(index: int, count: int) -> str:
    return f"{SHARDS_DIR}/shard-{index}-of-{count}.json"


def identity_dir(identity_id: str) -> str:
    return f"{IDENTITIES_DIR}/{identity_id}"


def anchor_dir(anchor_id: str) -> str:
    return f"{ANCHORS_DIR}/{anchor_id}"


def anchor_emotion_file(emotion: str) -> str:
    return f"{emotion}.safetensors"


def curve_clip_names(count: int) -> tuple[str, ...]:
    """The names of an anchor's first ``count`` emotion curves, which are also the clip folder names of
    the curve clips (in place of an emotion name): ``curve-0``, ``curve-1``, ..."""
    return tuple(f"curve-{j}" for j in range(count))


def clip_key(identity_id: str, anchor_id: str, emotion: str) -> str:
    """The clip's name everywhere (manifest, errors, tracker keys): ``identity/anchor/emotion``."""
    return f"{identity_id}/{anchor_id}/{emotion}"


def pair_dir(identity_id: str, anchor_id: str) -> str:
    """The folder of every emotion's clip of one (identity, anchor) pair."""
    return f"{CLIPS_DIR}/{identity_id}/{anchor_id}"


def clip_dir(identity_id: str, anchor_id: str, emotion: str) -> str:
    return f"{pair_dir(identity_id, anchor_id)}/{emotion}"


def png_frame_file(timestep: int, view: int) -> str:
    """Frame ``timestep`` of view ``view`` inside a clip directory (VHAP's ``<t:05d>_<v:02d>.png``)."""
    return f"{FRAMES_DIR}/{timestep:05d}_{view:02d}.png"


def mp4_view_file(view: int) -> str:
    """The video of view ``view`` inside a clip directory."""
    return f"{FRAMES_DIR}/view_{view:02d}.mp4"
