"""A clip's cameras as a NeRF-style ``transforms.json``, in the convention of VHAP's NeRF export and LAM.

Top level: the intrinsics of camera 0 (``fl_x``, ``fl_y``, ``cx``, ``cy``, ``w``, ``h``,
``camera_angle_x``, ``camera_angle_y``) for tools that expect one shared camera,
``timestep_indices``, ``camera_indices`` and ``frames``. One frame entry per (timestep, camera):
``timestep_index``, ``timestep_id``, ``camera_index``, ``camera_id``, that camera's intrinsics,
``transform_matrix`` (camera-to-world, **OpenGL** axes: x right, y up, z backward) and
``file_path`` (relative to the clip directory). For MP4 clips ``file_path`` is the view's video
and ``video_frame_index`` the frame inside it.
"""

from __future__ import annotations

from typing import Any

import torch

from emoctl.data.cameras import (
    CameraRig,
    intrinsics_from_nerf_frame,
    nerf_frame_intrinsics,
    opencv_to_opengl,
    opengl_to_opencv,
)
from emoctl.data.layout import mp4_view_file, png_frame_file
from emoctl.errors import DataError


def transforms_for_clip(cameras: CameraRig, num_frames: int, frame_format: str) -> dict[str, Any]:
    """The ``transforms.json`` of a clip with a static rig of ``cameras.num_views`` views over ``num_frames`` frames."""
    gl = opencv_to_opengl(cameras.c2w).double()
    per_camera = [nerf_frame_intrinsics(cameras.K[v], cameras.width, cameras.height) for v in range(cameras.num_views)]
    frames = []
    for t in range(num_frames):
        for v in range(cameras.num_views):
            entry: dict[str, Any] = {
                "timestep_index": t,
                "timestep_id": f"{t:05d}",
                "camera_index": v,
                "camera_id": f"{v:02d}",
                **per_camera[v],
                "transform_matrix": gl[v].tolist(),
            }
            if frame_format == "mp4":
                entry["file_path"] = mp4_view_file(v)
                entry["video_frame_index"] = t
            else:
                entry["file_path"] = png_frame_file(t, v)
            frames.append(entry)
    return {
        **per_camera[0],
        "camera_convention": "opengl",
        "timestep_indices": list(range(num_frames)),
        "camera_indices": list(range(cameras.num_views)),
        "frames": frames,
    }


def cameras_from_transforms(data: dict[str, Any], what: str) -> CameraRig:
    """The rig (OpenCV c2w) of a ``transforms.json``, from its timestep-0 entries; checks the rig is static."""
    try:
        frames = data["frames"]
        first: dict[int, dict[str, Any]] = {}
        for entry in frames:
            if entry["timestep_index"] == 0:
                first[int(entry["camera_index"])] = entry
        if sorted(first) != list(range(len(first))) or not first:
            raise DataError(f"{what}: camera indices of timestep 0 are {sorted(first)}, expected 0..V-1")
        sizes = {(int(e["w"]), int(e["h"])) for e in first.values()}
        if len(sizes) != 1:
            raise DataError(f"{what}: cameras have different image sizes {sorted(sizes)}")
        for entry in frames:
            ref = first.get(int(entry["camera_index"]))
            if ref is None or entry["transform_matrix"] != ref["transform_matrix"]:
                raise DataError(
                    f"{what}: camera {entry['camera_index']} moves at timestep {entry['timestep_index']}; "
                    "clips have a static rig"
                )
        c2w_gl = torch.tensor([first[v]["transform_matrix"] for v in range(len(first))], dtype=torch.float32)
        K = torch.stack([intrinsics_from_nerf_frame(first[v]) for v in range(len(first))])
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{what}: malformed transforms.json ({type(exc).__name__}: {exc})") from None
    (width, height), = sizes
    return CameraRig(opengl_to_opencv(c2w_gl), K, width, height)
