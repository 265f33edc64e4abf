"""``SyncedEmotionDataset``: the paper's training pairs from a built dataset (paper 3.3.4, S1.1).

An item is a reference image of an identity, a driving FLAME sequence in a source emotion, a target
emotion label, and the target FLAME sequence and frames of the same content (same anchor, same
frame indices: the clips are synchronised) in the target emotion.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from torch.utils.data import Dataset

from emoctl.data.cameras import CameraRig
from emoctl.data.flame_params import FLAME_IDENTITY_KEYS, FlameSequence, slice_flame_sequence
from emoctl.data.config import DatasetConfig
from emoctl.data.layout import curve_clip_names
from emoctl.data.manifest import load_manifest, vocabulary_of
from emoctl.data.reader import (
    clip_cameras,
    clip_emotion_curve,
    clip_flame,
    clip_frames,
    clip_record,
    clip_timestamps,
    identity_betas,
    identity_reference_camera,
    identity_reference_image,
)
from emoctl.data.splits import SPLITS, SplitAssignment, assign_splits
from emoctl.data.tracking import stable_seed
from emoctl.errors import ArgumentTypeError, DataError

#: ``self``: source emotion = target emotion, same identity. ``cross_emotion``: same identity and
#: anchor, source != target. ``cross_identity``: driving FLAME from another identity's clip of the same
#: anchor (source emotion drawn from all emotions); reference image and target from the reference identity.
#: A curve clip as the target: ``self`` drives with the curve clip itself, the other modes with a
#: constant-emotion clip (any emotion).
MODES = ("self", "cross_emotion", "cross_identity")


class SyncedEmotionDataset(Dataset):
    """Training pairs of a dataset built by :func:`~emoctl.data.builder.build_dataset`.

    There is one item per (identity, anchor, target emotion) of the split, and one per curve clip of
    the (identity, anchor) when the dataset has them (``DatasetConfig.curve_clips``; ``curves=False``
    leaves them out): the target's emotion then changes over the clip. Item ``i`` is a pure
    function of ``(seed, epoch, i)``: the window of ``frames_per_sample`` frames, the source emotion
    and (for ``cross_identity``) the driving identity are drawn from a generator seeded by a stable
    hash of the three, so ``num_workers`` does not change batches; :meth:`set_epoch` draws new ones.

    An item (a dict; everything collates with the default ``DataLoader`` collate):

    - ``identity``, ``anchor``, ``driving_identity``: ids (str)
    - ``reference_image``: float ``[3, H, W]`` in [0, 1]
    - ``reference_c2w`` float ``[4, 4]`` (OpenCV) and ``reference_K`` float ``[3, 3]``: the camera of the
      reference image (``identity.json`` ``reference_camera``); ``has_reference_camera`` (bool) is False
      when the identity has none, and both are then zeros (a trainer that needs them refuses such data)
    - ``reference_emotion``: int id, or -1 when unknown; ``source_emotion``, ``target_emotion``: int ids,
      -1 for a curve clip (its emotion is in ``source_weights`` / ``target_weights``)
    - ``source_weights``, ``target_weights``: float ``[T, K]`` per-frame emotion weights over the
      vocabulary (neutral included, rows summing to one): the emotion's one-hot row repeated, or the
      curve clip's ``emotion_curve`` over the window
    - ``driving``: FLAME sequence ``{expr [T, 100], jaw_pose [T, 3], ..., betas [300]}`` of the driving clip
    - ``target``: the same for the target clip (reference identity, target emotion)
    - ``target_frames``: float ``[T, V, 3, H, W]`` in [0, 1]
    - ``cameras``: ``{c2w [V, 4, 4] (OpenCV), K [V, 3, 3], width, height}`` of the target clip
    - ``frame_indices`` int64 ``[T]``, ``timestamps`` float64 ``[T]`` seconds

    ``betas`` come from the tracked clip when the tracker estimated them, else from the identity,
    else zeros. Only ``manifest.json`` is read in ``__init__`` (and checked: a malformed or
    unsynchronised manifest is a :class:`DataError` there). An item's files are checked as they are
    read (:mod:`emoctl.data.reader`): frame and reference image sizes, FLAME shapes and frame counts
    against the manifest, finite values; a damaged file is a :class:`DataError` naming the clip and
    the file, never a wrong-sized tensor. :func:`~emoctl.data.verify.verify` is the thorough check.
    """

    def __init__(
        self,
        root: str | Path,
        mode: str = "cross_emotion",
        frames_per_sample: int = 4,
        split: str = "train",
        seed: int = 0,
        *,
        heldout_identity_fraction: float = 0.1,
        heldout_anchor_fraction: float = 0.1,
        split_seed: int = 0,
        heldout_identities: Iterable[str] | None = None,
        heldout_anchors: Iterable[str] | None = None,
        curves: bool = True,
    ):
        if mode not in MODES:
            raise DataError(f"unknown mode {mode!r}; choose one of {list(MODES)}")
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
        self.root = Path(root)
        self.mode = mode
        self.split = split
        self.frames_per_sample = _as_int(frames_per_sample, "frames_per_sample", minimum=1)
        self.seed = _as_int(seed, "seed")
        self.epoch = 0
        manifest = load_manifest(self.root)
        self.vocabulary = vocabulary_of(manifest)
        self.splits: SplitAssignment = assign_splits(
            [e["id"] for e in manifest["identities"]],
            [e["id"] for e in manifest["anchors"]],
            heldout_identity_fraction=heldout_identity_fraction,
            heldout_anchor_fraction=heldout_anchor_fraction,
            split_seed=split_seed,
            heldout_identities=heldout_identities,
            heldout_anchors=heldout_anchors,
        )
        identities, anchors = self.splits.members(split)
        self._identities = {e["id"]: e for e in manifest["identities"] if e["id"] in identities}
        clips: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        anchor_frames = {e["id"]: e["num_frames"] for e in manifest["anchors"]}
        for clip in manifest["clips"]:
            if clip["identity"] in identities and clip["anchor"] in anchors:
                if clip["num_frames"] != anchor_frames[clip["anchor"]]:
                    raise DataError(
                        f"{self.root}: clip {clip['key']} has {clip['num_frames']} frames, its anchor {clip['anchor']} "
                        f"has {anchor_frames[clip['anchor']]}: not synchronised (`emoctl data verify` lists the problems)"
                    )
                # file checksums are verify's business; without them each worker's copy stays small
                kept = {k: v for k, v in clip.items() if k != "files"}
                clips.setdefault((clip["identity"], clip["anchor"]), {})[clip["emotion"]] = kept
        names = self.vocabulary.names
        self._clips = {pair: c for pair, c in clips.items() if all(e in c for e in names)}
        curve_names = curve_clip_names(DatasetConfig.from_json(manifest["config"]).curve_clips) if curves else ()
        # (identity, anchor, target clip name): the emotions in vocabulary order, then the curve clips
        self._items = [(i, a, name) for (i, a), c in self._clips.items()
                       for name in (*names, *(n for n in curve_names if n in c))]
        if not self._items:
            raise DataError(
                f"split {split!r} of {self.root} is empty: identities {list(identities)} x anchors {list(anchors)} "
                f"(held out: identities {list(self.splits.heldout_identities)}, anchors "
                f"{list(self.splits.heldout_anchors)}); change the held-out fractions or lists"
            )
        shortest = min(self._clips.items(), key=lambda kv: kv[1][names[0]]["num_frames"])
        if shortest[1][names[0]]["num_frames"] < frames_per_sample:
            raise DataError(
                f"frames_per_sample={frames_per_sample} is longer than the clips of identity {shortest[0][0]}, "
                f"anchor {shortest[0][1]} ({shortest[1][names[0]]['num_frames']} frames) in split {split!r}"
            )
        # per clip directory: (cameras, timestamps, emotion curve or None), read from its JSON files on first use
        self._clip_static: dict[str, tuple[CameraRig, torch.Tensor, torch.Tensor | None]] = {}
        # per identity: its reference camera (or None), read from identity.json on first use
        self._reference_cameras: dict[str, CameraRig | None] = {}
        self._drivers: dict[str, list[str]] = {}
        for identity, anchor in self._clips:
            self._drivers.setdefault(anchor, []).append(identity)
        if mode == "cross_identity":
            lonely = sorted(a for a, ids in self._drivers.items() if len(ids) < 2)
            if lonely:
                raise DataError(
                    f"mode 'cross_identity' needs at least 2 identities per anchor in split {split!r}; "
                    f"anchors {lonely} have one"
                )

    def __len__(self) -> int:
        return len(self._items)

    def set_epoch(self, epoch: int) -> None:
        """Draw new windows, source emotions and driving identities (call before each epoch, in every worker's copy)."""
        self.epoch = _as_int(epoch, "epoch")

    def sample_plan(self, index: int) -> dict[str, Any]:
        """What item ``index`` uses (identities, anchor, emotions, window start), without reading any file."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise ArgumentTypeError(f"dataset indices must be ints, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for a dataset of {len(self)} items")
        identity, anchor, target_clip = self._items[index % len(self)]
        target = self.vocabulary.index(target_clip) if target_clip in self.vocabulary else -1  # -1: a curve clip
        rng = random.Random(stable_seed("item", self.seed, self.epoch, index % len(self)))
        num_frames = self._clips[(identity, anchor)][target_clip]["num_frames"]
        start = rng.randrange(num_frames - self.frames_per_sample + 1)
        k = len(self.vocabulary)
        driving_identity = identity
        if self.mode == "self":
            source = target
        elif self.mode == "cross_emotion":
            source = rng.choice([e for e in range(k) if e != target])
        else:
            source = rng.randrange(k)
            driving_identity = rng.choice([i for i in self._drivers[anchor] if i != identity])
        return {
            "identity": identity,
            "anchor": anchor,
            "driving_identity": driving_identity,
            "source_emotion": source,
            "target_emotion": target,
            "start": start,
            "target_clip": target_clip,
            "source_clip": target_clip if source < 0 else self.vocabulary[source],
        }

    def __getitem__(self, index: int) -> dict[str, Any]:
        plan = self.sample_plan(index)
        identity, anchor = plan["identity"], plan["anchor"]
        target_clip = self._clips[(identity, anchor)][plan["target_clip"]]
        driving_clip = self._clips[(plan["driving_identity"], anchor)][plan["source_clip"]]
        window = torch.arange(plan["start"], plan["start"] + self.frames_per_sample)
        image = identity_reference_image(self.root, self._identities[identity])
        frames = clip_frames(self.root, target_clip, window.tolist())
        rig, timestamps, _ = self._static(target_clip)
        target = self._flame(target_clip, identity, window)
        if driving_clip is target_clip:  # "self" mode: the same file, loaded once (separate tensors all the same)
            driving = {k: v.clone() for k, v in target.items()}
        else:
            driving = self._flame(driving_clip, plan["driving_identity"], window)
        reference_emotion = self._identities[identity]["reference_emotion"]
        ref_c2w, ref_K, has_ref = self._reference_camera(identity)
        return {
            "identity": identity,
            "anchor": anchor,
            "driving_identity": plan["driving_identity"],
            "reference_image": _to_float_chw(image),
            "reference_c2w": ref_c2w,
            "reference_K": ref_K,
            "has_reference_camera": has_ref,
            "reference_emotion": self.vocabulary.index(reference_emotion) if reference_emotion else -1,
            "source_emotion": plan["source_emotion"],
            "target_emotion": plan["target_emotion"],
            "source_weights": self._weights(driving_clip, window),
            "target_weights": self._weights(target_clip, window),
            "driving": driving,
            "target": target,
            "target_frames": _to_float_chw(frames),
            "cameras": {"c2w": rig.c2w.clone(), "K": rig.K.clone(), "width": rig.width, "height": rig.height},
            "frame_indices": window,
            "timestamps": timestamps[window],
        }

    def _static(self, clip: dict[str, Any]) -> tuple[CameraRig, torch.Tensor, torch.Tensor | None]:
        """The clip's cameras, ``[T]`` timestamps and (a curve clip's) ``[T, K]`` emotion curve: its JSON
        files are parsed once per dataset object (per DataLoader worker), not once per item."""
        cached = self._clip_static.get(clip["dir"])
        if cached is None:
            record = clip_record(self.root, clip)
            curve = clip_emotion_curve(self.root, clip, len(self.vocabulary), record) if clip["emotion_id"] < 0 else None
            cached = (clip_cameras(self.root, clip), clip_timestamps(self.root, clip, record), curve)
            self._clip_static[clip["dir"]] = cached
        return cached

    def reference_camera(self, identity: str) -> CameraRig | None:
        """The one-view camera of ``identity``'s reference image, or None (read once per dataset object)."""
        if identity not in self._reference_cameras:
            self._reference_cameras[identity] = identity_reference_camera(self.root, self._identities[identity])
        return self._reference_cameras[identity]

    def _reference_camera(self, identity: str) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """``(c2w [4, 4], K [3, 3], known)``: zeros and False when the identity has no reference camera."""
        rig = self.reference_camera(identity)
        if rig is None:
            return torch.zeros(4, 4), torch.zeros(3, 3), False
        return rig.c2w[0].clone(), rig.K[0].clone(), True

    def _weights(self, clip: dict[str, Any], window: torch.Tensor) -> torch.Tensor:
        """float32 ``[T, K]`` emotion weights of the window: a curve clip's curve, else its emotion's one-hot row."""
        curve = self._static(clip)[2] if clip["emotion_id"] < 0 else None
        if curve is not None:
            return curve[window].clone()
        weights = torch.zeros(len(window), len(self.vocabulary))
        weights[:, clip["emotion_id"]] = 1.0
        return weights

    def _flame(self, clip: dict[str, Any], identity: str, window: torch.Tensor) -> FlameSequence:
        """The window of the clip's FLAME file (checked whole: shapes against the manifest, finite values)."""
        seq = slice_flame_sequence(clip_flame(self.root, clip), window)
        if "betas" not in seq:
            betas = identity_betas(self.root, self._identities[identity])
            seq["betas"] = betas if betas is not None else torch.zeros(FLAME_IDENTITY_KEYS["betas"])
        return {k: v.contiguous() for k, v in seq.items()}


def _as_int(value: Any, what: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (minimum is not None and value < minimum):
        raise DataError(f"{what} must be an int" + (f" >= {minimum}" if minimum is not None else "") + f", got {value!r}")
    return int(value)


def _to_float_chw(image: np.ndarray) -> torch.Tensor:
    """uint8 ``[..., H, W, 3]`` -> float ``[..., 3, H, W]`` in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(image, -1, -3))).to(torch.float32).div_(255.0)
