"""MediapipeFaceMesh without a usable mediapipe: a clear MissingDependencyError, nothing downloaded.

CI does not install mediapipe; each case fakes the situation it checks, so the tests hold whether
or not mediapipe happens to be installed.
"""

import importlib
import importlib.util
import sys
import types
from importlib.machinery import ModuleSpec

import pytest
import torch

from emoctl.errors import MissingDependencyError
from emoctl.metrics import LandmarkDetector, MediapipeFaceMesh
from emoctl.metrics import face_mesh


def fake_spec(monkeypatch, root):
    spec = ModuleSpec("mediapipe", None, is_package=True)
    spec.submodule_search_locations = [str(root)] if root is not None else None
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: spec if name == "mediapipe" else real(name, *a))


def fake_install(monkeypatch, root):
    """A "mediapipe" package at ``root`` holding (empty) model files."""
    for f in face_mesh.MODEL_FILES:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_bytes(b"")
    fake_spec(monkeypatch, root)


def test_absent_mediapipe_names_the_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mediapipe" else real(name, *a))
    with pytest.raises(MissingDependencyError, match="not installed: pip install 'mediapipe") as info:
        MediapipeFaceMesh()
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ImportError)


def test_missing_model_files_are_named(monkeypatch, tmp_path):
    fake_spec(monkeypatch, tmp_path)  # a "mediapipe" package without its .tflite models
    with pytest.raises(MissingDependencyError, match="face_landmark.tflite.*pip install 'mediapipe"):
        MediapipeFaceMesh()


def test_missing_solution_is_reported(monkeypatch, tmp_path):
    fake_install(monkeypatch, tmp_path)
    real = importlib.import_module

    def no_solution(name, *a):
        if name.startswith("mediapipe"):
            raise ModuleNotFoundError("No module named 'mediapipe.python'")
        return real(name, *a)

    monkeypatch.setattr(importlib, "import_module", no_solution)
    with pytest.raises(MissingDependencyError, match="face-mesh solution cannot be imported.*0.10.30"):
        MediapipeFaceMesh()


def test_detector_converts_to_pixels_and_nan_rows(monkeypatch, tmp_path):
    """With a stand-in for mediapipe's FaceMesh: normalised (x, y) → pixels, no face → NaN row."""
    fake_install(monkeypatch, tmp_path)
    seen = []

    class FakeMesh:
        def __init__(self, **kwargs):
            seen.append(kwargs)

        def process(self, rgb):
            assert rgb.dtype.name == "uint8" and rgb.shape == (10, 20, 3)
            if rgb.max() == 0:
                return types.SimpleNamespace(multi_face_landmarks=None)
            pts = [types.SimpleNamespace(x=0.5, y=0.25)] * 468
            return types.SimpleNamespace(multi_face_landmarks=[types.SimpleNamespace(landmark=pts)])

        def close(self):
            seen.append("closed")

    monkeypatch.setitem(sys.modules, "mediapipe.python.solutions.face_mesh", types.SimpleNamespace(FaceMesh=FakeMesh))
    images = torch.stack([torch.ones(10, 20, 3), torch.zeros(10, 20, 3)])
    with MediapipeFaceMesh(min_confidence=0.3) as det:
        assert isinstance(det, LandmarkDetector)
        out = det(images)
    assert seen[0]["static_image_mode"] and seen[0]["min_detection_confidence"] == 0.3 and seen[-1] == "closed"
    assert out.shape == (2, 468, 2)
    assert torch.equal(out[0], torch.tensor([10.0, 2.5]).expand(468, 2))
    assert out[1].isnan().all()
