"""MediapipeFaceMesh: a :class:`~emoctl.metrics.protocols.LandmarkDetector` over mediapipe's face mesh.

Needs the optional ``mediapipe`` 0.10.x before 0.10.30 (``pip install 'emoctl[landmarks]'`` or
``pip install 'mediapipe>=0.10,<0.10.30'``), imported only when a detector is built. It uses
mediapipe's legacy face-mesh solution, whose TFLite models (face detection + 468-point face
landmarks) ship inside those wheels: nothing is ever downloaded. mediapipe 0.10.30 and later drop
that solution and its bundled models (their face landmarker needs a separately downloaded
``.task`` file), so they are refused like an absent mediapipe: building the detector raises
:class:`~emoctl.errors.MissingDependencyError` with a one-line message saying what to install.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import torch
from torch import Tensor

from emoctl.errors import MissingDependencyError
from emoctl.metrics._judges import check_batch

#: model files mediapipe's face mesh loads, relative to the installed ``mediapipe`` package
MODEL_FILES = (
    "modules/face_detection/face_detection_short_range.tflite",
    "modules/face_landmark/face_landmark.tflite",
)
_INSTALL = "pip install 'mediapipe>=0.10,<0.10.30' (or pip install 'emoctl[landmarks]')"


def _mediapipe_dir() -> Path:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(f"MediapipeFaceMesh needs mediapipe (0.10.x before 0.10.30), which is not installed: {_INSTALL}")
    return Path(next(iter(spec.submodule_search_locations)))


def _face_mesh_class():
    root = _mediapipe_dir()
    missing = [f for f in MODEL_FILES if not (root / f).is_file()]
    if missing:
        raise MissingDependencyError(
            f"MediapipeFaceMesh: the installed mediapipe ({root}) lacks its face-mesh model files "
            f"{missing} (mediapipe 0.10.30 and later no longer ship them): {_INSTALL}"
        )
    try:
        module = importlib.import_module("mediapipe.python.solutions.face_mesh")
    except Exception as exc:  # noqa: BLE001 - any failure to import is a broken/unsupported install
        raise MissingDependencyError(
            f"MediapipeFaceMesh: mediapipe is installed but its face-mesh solution cannot be imported ({exc}); "
            f"it needs mediapipe 0.10.x before 0.10.30: {_INSTALL}"
        ) from exc
    return module.FaceMesh


class MediapipeFaceMesh:
    """``images [N, H, W, 3]`` in [0, 1] → ``[N, 468, 2]`` pixel landmarks ``(x, y)``; NaN rows for no face.

    One face per image (the most confident). ``min_confidence`` is mediapipe's face-detection
    threshold. Use as a context manager, or call :meth:`close`, to free mediapipe's graph.
    """

    landmarks = 468

    def __init__(self, min_confidence: float = 0.5) -> None:
        face_mesh = _face_mesh_class()
        self._mesh = face_mesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=False, min_detection_confidence=min_confidence
        )

    def __call__(self, images: Tensor) -> Tensor:
        check_batch(images, "MediapipeFaceMesh")
        n, h, w, _ = images.shape
        pixels = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
        out = torch.full((n, self.landmarks, 2), float("nan"))
        for i in range(n):
            faces = self._mesh.process(pixels[i]).multi_face_landmarks
            if faces:
                points = faces[0].landmark
                out[i] = torch.tensor([(p.x * w, p.y * h) for p in points[: self.landmarks]])
        return out.to(images.device)

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> MediapipeFaceMesh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
