"""The contract types: FLAME validator, camera rigs and conventions, anchors, identities, config, tracker."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from emoctl.data import (
    AnchorClip,
    CameraRig,
    DatasetConfig,
    Identity,
    PassThroughTracker,
    ReenactedClip,
    Reenactor,
    Tracker,
    opencv_to_opengl,
    opengl_to_opencv,
    validate_flame_sequence,
)
from emoctl.data.transforms import cameras_from_transforms, transforms_for_clip
from emoctl.errors import DataError, NonFiniteError, ShapeError
from synced_tiny import TinyReenactor, make_anchor, make_flame, make_identity, make_rig


def test_flame_validator_accepts_a_sequence_and_returns_its_length():
    seq = make_flame(5, 1, 0)
    assert validate_flame_sequence(seq) == 5
    seq["betas"] = torch.zeros(300)
    assert validate_flame_sequence(seq, num_frames=5) == 5


@pytest.mark.parametrize(
    "change, error, words",
    [
        (lambda s: s.pop("jaw_pose"), ShapeError, ["missing", "jaw_pose"]),
        (lambda s: s.__setitem__("exp", s.pop("expr")), ShapeError, ["unknown", "exp"]),
        (lambda s: s.__setitem__("expr", torch.zeros(5, 50)), ShapeError, ["expr", "[T, 100]", "[5, 50]"]),
        (lambda s: s.__setitem__("eyes_pose", torch.zeros(4, 6)), ShapeError, ["eyes_pose", "5 frames"]),
        (lambda s: s.__setitem__("rotation", torch.zeros(5, 3, dtype=torch.int64)), ShapeError, ["rotation", "floating"]),
        (lambda s: s.__setitem__("betas", torch.zeros(5, 300)), ShapeError, ["betas", "[300]"]),
        (lambda s: s["translation"].__setitem__((2, 1), float("nan")), NonFiniteError, ["translation", "NaN"]),
    ],
)
def test_flame_validator_names_the_problem(change, error, words):
    seq = make_flame(5, 1, 0)
    change(seq)
    with pytest.raises(error) as info:
        validate_flame_sequence(seq, name="clip X")
    for word in ["clip X", *words]:
        assert word in str(info.value)


def test_flame_validator_checks_the_expected_frame_count():
    with pytest.raises(ShapeError, match=r"expected 7 frames \(shape \[7, 100\]\), got \[5, 100\]"):
        validate_flame_sequence(make_flame(5, 0, 0), num_frames=7)


def test_opencv_opengl_conversion_flips_y_and_z_and_is_its_own_inverse():
    rig = make_rig(3)
    gl = opencv_to_opengl(rig.c2w)
    assert torch.equal(gl[:, :3, 0], rig.c2w[:, :3, 0])
    assert torch.equal(gl[:, :3, 1], -rig.c2w[:, :3, 1])
    assert torch.equal(gl[:, :3, 2], -rig.c2w[:, :3, 2])
    assert torch.equal(gl[:, :3, 3], rig.c2w[:, :3, 3])
    assert torch.equal(opengl_to_opencv(gl), rig.c2w)
    # The origin is in front of every camera: +z in OpenCV camera coordinates, -z in OpenGL ones.
    origin = torch.tensor([0.0, 0.0, 0.0, 1.0])
    for v in range(3):
        assert (torch.linalg.inv(rig.c2w[v]) @ origin)[2] > 0.5
        assert (torch.linalg.inv(gl[v]) @ origin)[2] < -0.5


def test_camera_rig_checks_shapes_and_round_trips_through_json():
    rig = make_rig(2)
    again = CameraRig.from_json(rig.to_json())
    assert again.equals(rig)
    with pytest.raises(ShapeError, match=r"K: expected shape \[2, 3, 3\]"):
        CameraRig(rig.c2w, rig.K[:1], 64, 64)
    with pytest.raises(ShapeError, match="width"):
        CameraRig(rig.c2w, rig.K, 0, 64)
    with pytest.raises(NonFiniteError):
        CameraRig(rig.c2w * float("inf"), rig.K, 64, 64)


def test_transforms_json_follows_the_nerf_convention_and_reads_back_exactly():
    rig = make_rig(2)
    data = transforms_for_clip(rig, num_frames=3, frame_format="png")
    assert len(data["frames"]) == 6 and data["timestep_indices"] == [0, 1, 2] and data["camera_indices"] == [0, 1]
    frame = data["frames"][3]
    assert (frame["timestep_index"], frame["camera_index"], frame["file_path"]) == (1, 1, "frames/00001_01.png")
    assert (frame["fl_x"], frame["fl_y"], frame["cx"], frame["cy"], frame["w"], frame["h"]) == (128, 128, 32, 32, 64, 64)
    assert frame["camera_angle_x"] == pytest.approx(2 * math.atan(64 / 256))
    assert torch.equal(torch.tensor(frame["transform_matrix"], dtype=torch.float32), opencv_to_opengl(rig.c2w[1]))
    assert cameras_from_transforms(data, "t").equals(rig)
    video = transforms_for_clip(rig, num_frames=3, frame_format="mp4")
    assert (video["frames"][3]["file_path"], video["frames"][3]["video_frame_index"]) == ("frames/view_01.mp4", 1)
    data["frames"][4]["transform_matrix"][0][3] += 1.0
    with pytest.raises(DataError, match="moves at timestep 2"):
        cameras_from_transforms(data, "t")


def test_anchor_requires_frame_synchronised_emotions():
    anchor = make_anchor("a", num_frames=6)
    emotions = dict(anchor.emotions)
    emotions["sad"] = make_flame(5, 2, 0)
    with pytest.raises(DataError, match="unequal frame counts"):
        AnchorClip("a", 5.0, emotions, anchor.timestamps, anchor.cameras)
    with pytest.raises(ShapeError, match=r"timestamps: expected shape \[6\]"):
        AnchorClip("a", 5.0, anchor.emotions, anchor.timestamps[:5], anchor.cameras)
    with pytest.raises(DataError, match="strictly increasing"):
        AnchorClip("a", 5.0, anchor.emotions, anchor.timestamps.flip(0), anchor.cameras)
    with pytest.raises(DataError, match="not a safe file name"):
        AnchorClip("../a", 5.0, anchor.emotions, anchor.timestamps, anchor.cameras)


def test_resample_picks_the_same_nearest_frames_for_every_emotion():
    anchor = make_anchor("a", num_frames=10, fps=10.0)  # 0.0 .. 0.9 s
    half = anchor.resample(5.0)
    assert half.fps == 5.0 and half.num_frames == 5
    assert torch.allclose(half.timestamps, torch.tensor([0.0, 0.2, 0.4, 0.6, 0.8], dtype=torch.float64))
    for emotion, seq in half.emotions.items():
        assert seq["expr"][:, 1].tolist() == [0, 2, 4, 6, 8]  # expr[:, 1] is the source frame index
        assert torch.equal(seq["jaw_pose"], anchor.emotions[emotion]["jaw_pose"][[0, 2, 4, 6, 8]])
    odd = anchor.resample(3.0)  # grid 0, 0.333, 0.667 s -> nearest frames 0, 3, 7
    assert odd.emotions["happy"]["expr"][:, 1].tolist() == [0, 3, 7]
    double = make_anchor("b", num_frames=3, fps=5.0).resample(10.0)  # 0, .1, .2, .3, .4 -> ties go earlier
    assert double.emotions["neutral"]["expr"][:, 1].tolist() == [0, 0, 1, 1, 2]
    assert double.num_frames == 5 and bool((double.timestamps.diff() > 0).all())


def test_window_cuts_every_emotion_and_checks_its_range():
    anchor = make_anchor("a", num_frames=8)
    part = anchor.window(2, 3)
    assert part.num_frames == 3 and part.timestamps.tolist() == anchor.timestamps[2:5].tolist()
    assert all(s["expr"][:, 1].tolist() == [2, 3, 4] for s in part.emotions.values())
    with pytest.raises(DataError, match="outside its 8 frames"):
        anchor.window(6, 3)


def test_identity_checks_its_image_betas_and_id():
    ident = make_identity("id0", 0)
    assert ident.reference_image.dtype == np.uint8
    assert Identity("t", torch.zeros(4, 4, 3, dtype=torch.uint8)).reference_image.shape == (4, 4, 3)
    with pytest.raises(ShapeError, match=r"uint8 \[H, W, 3\]"):
        Identity("x", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ShapeError, match=r"betas must be a floating tensor \[300\]"):
        Identity("x", np.zeros((4, 4, 3), np.uint8), betas=torch.zeros(100))
    with pytest.raises(DataError, match="not a safe file name"):
        Identity("a b", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DataError, match="JSON-able"):
        Identity("x", np.zeros((4, 4, 3), np.uint8), traits={"age": object()})


def test_dataset_config_presets_and_validation():
    appearance, geometry = DatasetConfig.appearance(), DatasetConfig.geometry(image_size=(64, 32))
    assert (appearance.kind, appearance.fps, appearance.frame_format) == ("appearance", 5.0, "png")
    assert appearance.max_frames is not None and appearance.max_frames <= 16
    assert (geometry.kind, geometry.fps, geometry.frame_format, geometry.max_frames) == ("geometry", 30.0, "mp4", None)
    assert geometry.image_size == (64, 32)
    assert DatasetConfig.from_json(geometry.to_json()) == geometry
    with pytest.raises(DataError, match="frame_format"):
        DatasetConfig(frame_format="gif")
    with pytest.raises(DataError, match="even image_size"):
        DatasetConfig.geometry(image_size=63)
    with pytest.raises(DataError, match="unknown fields"):
        DatasetConfig.from_json({**appearance.to_json(), "colour": 1})


def test_the_test_reenactor_and_pass_through_tracker_follow_the_protocols():
    assert isinstance(TinyReenactor(), Reenactor)
    assert isinstance(PassThroughTracker(), Tracker)
    assert not isinstance(object(), Reenactor)


def _clip() -> ReenactedClip:
    return TinyReenactor().reenact(make_identity("id0", 0), make_anchor("a", 6), "sad")


def test_pass_through_tracker_returns_the_ground_truth_without_noise():
    clip = _clip()
    out = PassThroughTracker().track(clip, "id0/a/sad")
    assert out.keys() == clip.flame.keys()
    assert all(torch.equal(out[k], clip.flame[k]) for k in out)
    out["expr"] += 1  # a copy: the reenactor's tensors are untouched
    assert not torch.equal(out["expr"], clip.flame["expr"])
    with pytest.raises(DataError, match="has no ground-truth FLAME"):
        PassThroughTracker().track(ReenactedClip(clip.frames, clip.cameras, clip.timestamps, None), "k")


def test_pass_through_noise_is_on_expr_and_jaw_only_and_deterministic_per_clip():
    clip = _clip()
    tracker = PassThroughTracker(noise_std=0.1, seed=7)
    a, b = tracker.track(clip, "id0/a/sad"), tracker.track(clip, "id0/a/sad")
    other = tracker.track(clip, "id0/a/happy")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["expr"], other["expr"])
    noise = torch.cat([(a["expr"] - clip.flame["expr"]).flatten(), (a["jaw_pose"] - clip.flame["jaw_pose"]).flatten()])
    assert 0.08 < float(noise.std()) < 0.12
    for key in ("rotation", "neck_pose", "eyes_pose", "translation", "betas"):
        assert torch.equal(a[key], clip.flame[key])
    assert not torch.equal(PassThroughTracker(0.1, seed=8).track(clip, "id0/a/sad")["expr"], a["expr"])


def test_pass_through_noise_is_the_same_in_another_process():
    clip = _clip()
    here = PassThroughTracker(noise_std=0.1, seed=7).track(clip, "id0/a/sad")["expr"]
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from synced_tiny import *; from emoctl.data import PassThroughTracker;"
        "clip = TinyReenactor().reenact(make_identity('id0', 0), make_anchor('a', 6), 'sad');"
        "e = PassThroughTracker(noise_std=0.1, seed=7).track(clip, 'id0/a/sad')['expr'];"
        "print(repr(e.double().sum().item()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code, os.path.dirname(__file__)], env=env, capture_output=True,
                         text=True, check=True)
    assert float(out.stdout.strip()) == here.double().sum().item()
