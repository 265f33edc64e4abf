"""Camera rigs (OpenCV convention) and the OpenCV <-> OpenGL camera-axis conversion.

OpenCV cameras look down +z with x right and y down; OpenGL (NeRF/Blender, VHAP's and LAM's
``transforms.json``) cameras look down -z with x right and y up. A camera-to-world matrix
converts between the two by negating its y and z columns; the conversion is its own inverse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from emoctl.errors import NonFiniteError, ShapeError
from emoctl.render.cameras import opencv_to_opengl_c2w, opengl_to_opencv_c2w

# One implementation of the axis flip, in the render layer; re-exported here under the names the
# data layer has always used.
opencv_to_opengl = opencv_to_opengl_c2w
opengl_to_opencv = opengl_to_opencv_c2w


def _as_float_tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor) or not (value.is_floating_point()):
        raise ShapeError(f"{name}: expected a floating tensor, got {type(value).__name__}"
                         + (f" of dtype {value.dtype}" if isinstance(value, torch.Tensor) else ""))
    return value.detach().to(device="cpu", dtype=torch.float32).contiguous()


@dataclass
class CameraRig:
    """``V`` pinhole cameras sharing an image size.

    ``c2w [V, 4, 4]`` camera-to-world in **OpenCV** axes (x right, y down, z forward), ``K [V, 3, 3]``
    pixel intrinsics, ``width`` and ``height`` in pixels. Tensors are stored as float32 on the CPU.
    """

    c2w: torch.Tensor
    K: torch.Tensor
    width: int
    height: int

    def __post_init__(self) -> None:
        self.c2w = _as_float_tensor(self.c2w, "CameraRig.c2w")
        self.K = _as_float_tensor(self.K, "CameraRig.K")
        if self.c2w.dim() != 3 or self.c2w.shape[1:] != (4, 4):
            raise ShapeError(f"CameraRig.c2w: expected shape [V, 4, 4], got {list(self.c2w.shape)}")
        if self.K.shape != (self.c2w.shape[0], 3, 3):
            raise ShapeError(f"CameraRig.K: expected shape [{self.c2w.shape[0]}, 3, 3], got {list(self.K.shape)}")
        if self.c2w.shape[0] < 1:
            raise ShapeError("CameraRig: needs at least one camera (V >= 1)")
        if not (torch.isfinite(self.c2w).all() and torch.isfinite(self.K).all()):
            raise NonFiniteError("CameraRig: c2w or K contains NaN or infinite values")
        for field_name in ("width", "height"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ShapeError(f"CameraRig.{field_name}: expected a positive int, got {value!r}")
            setattr(self, field_name, int(value))

    @property
    def num_views(self) -> int:
        return int(self.c2w.shape[0])

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict (OpenCV c2w) that :meth:`from_json` reads back exactly."""
        return {
            "convention": "opencv",
            "c2w": self.c2w.double().tolist(),
            "K": self.K.double().tolist(),
            "width": self.width,
            "height": self.height,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CameraRig":
        if data.get("convention", "opencv") != "opencv":
            raise ShapeError(f"camera rig: unsupported convention {data.get('convention')!r} (expected 'opencv')")
        return cls(torch.tensor(data["c2w"]), torch.tensor(data["K"]), int(data["width"]), int(data["height"]))

    def equals(self, other: "CameraRig") -> bool:
        return (
            self.width == other.width
            and self.height == other.height
            and torch.equal(self.c2w, other.c2w)
            and torch.equal(self.K, other.K)
        )


def nerf_frame_intrinsics(K: torch.Tensor, width: int, height: int) -> dict[str, float | int]:
    """The NeRF-style intrinsics fields of one ``K [3, 3]``: ``fl_x``, ``fl_y``, ``cx``, ``cy``, ``w``, ``h``,
    ``camera_angle_x``, ``camera_angle_y``."""
    k = K.double()
    fl_x, fl_y = float(k[0, 0]), float(k[1, 1])
    return {
        "fl_x": fl_x,
        "fl_y": fl_y,
        "cx": float(k[0, 2]),
        "cy": float(k[1, 2]),
        "w": int(width),
        "h": int(height),
        "camera_angle_x": 2.0 * math.atan(width / (2.0 * fl_x)),
        "camera_angle_y": 2.0 * math.atan(height / (2.0 * fl_y)),
    }


def intrinsics_from_nerf_frame(frame: dict[str, Any]) -> torch.Tensor:
    """``K [3, 3]`` from a NeRF-style frame's ``fl_x``, ``fl_y``, ``cx``, ``cy``."""
    return torch.tensor(
        [[frame["fl_x"], 0.0, frame["cx"]], [0.0, frame["fl_y"], frame["cy"]], [0.0, 0.0, 1.0]], dtype=torch.float32
    )
