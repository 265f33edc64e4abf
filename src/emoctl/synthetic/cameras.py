"""Camera rigs that frame the synthetic head (OpenCV axes, as :class:`emoctl.data.CameraRig` stores them).

The synthetic head spans about y in [-0.17, 0.12] m (neck stub to crown) and faces +z; the default
cameras look at :data:`HEAD_TARGET` from :data:`DEFAULT_DISTANCE` with a
:data:`DEFAULT_FOV_DEG` vertical field of view, which shows the whole head with a small margin.
"""

from __future__ import annotations

import math

import torch

from emoctl.data import CameraRig
from emoctl.errors import ShapeError

HEAD_TARGET: tuple[float, float, float] = (0.0, 0.0, 0.01)
DEFAULT_DISTANCE = 0.64
DEFAULT_FOV_DEG = 26.0


def as_image_size(image_size: int | tuple[int, int]) -> tuple[int, int]:
    """``(H, W)`` from an int (square) or a pair of positive ints (``ShapeError`` otherwise)."""
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (
        not isinstance(image_size, (tuple, list))
        or len(image_size) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in image_size)
    ):
        raise ShapeError(f"image_size must be a positive int or (H, W), got {image_size!r}")
    return int(image_size[0]), int(image_size[1])


def camera_rig(yaws_deg: list[float], pitches_deg: list[float] | None = None, image_size: int | tuple[int, int] = 512, *,
               distance: float = DEFAULT_DISTANCE, fov_deg: float = DEFAULT_FOV_DEG,
               target: tuple[float, float, float] = HEAD_TARGET) -> CameraRig:
    """Cameras at ``distance`` from ``target`` at the given yaw (positive: towards the subject's left,
    +x) and pitch (positive: from above) angles, all looking at ``target``, y up."""
    from emoctl.render import intrinsics_from_fov, look_at

    height, width = as_image_size(image_size)
    pitches = pitches_deg if pitches_deg is not None else [0.0] * len(yaws_deg)
    if len(yaws_deg) < 1 or len(pitches) != len(yaws_deg):
        raise ShapeError(f"camera_rig: need >= 1 yaw and as many pitches, got {len(yaws_deg)} and {len(pitches)}")
    if not distance > 0:
        raise ShapeError(f"camera_rig: distance must be > 0, got {distance!r}")
    tgt = torch.tensor(target, dtype=torch.float64)
    eyes = []
    for yaw, pitch in zip(yaws_deg, pitches):
        a, e = math.radians(yaw), math.radians(pitch)
        eyes.append(tgt + distance * torch.tensor([math.cos(e) * math.sin(a), math.sin(e), math.cos(e) * math.cos(a)], dtype=torch.float64))
    view = look_at(torch.stack(eyes), tgt.expand(len(eyes), 3))
    K = intrinsics_from_fov(fov_deg, width, height, dtype=torch.float64)
    return CameraRig(torch.linalg.inv(view).float(), K.expand(len(eyes), 3, 3).float().clone(), width, height)


def default_rig(num_views: int = 3, image_size: int | tuple[int, int] = 512, *, yaw_deg: float = 30.0,
                distance: float = DEFAULT_DISTANCE, fov_deg: float = DEFAULT_FOV_DEG) -> CameraRig:
    """The anchors' multi-view rig: frontal first, then +-``yaw_deg``, +-2 ``yaw_deg``, ... (1 view:
    frontal only; 3 views: frontal and +-30 degrees)."""
    if isinstance(num_views, bool) or not isinstance(num_views, int) or num_views < 1:
        raise ShapeError(f"num_views must be a positive int, got {num_views!r}")
    yaws = [0.0]
    step = 1
    while len(yaws) < num_views:
        yaws.append(step * yaw_deg)
        if len(yaws) < num_views:
            yaws.append(-step * yaw_deg)
        step += 1
    return camera_rig(yaws, None, image_size, distance=distance, fov_deg=fov_deg)
