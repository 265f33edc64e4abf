"""Ground-truth rendering: (head model, betas, FLAME sequence, albedo) -> Gaussians -> images.

One Gaussian per vertex of the (subdivided) synthetic head, eyeballs and the mouth's inner parts
(cavity, teeth, tongue) included:

- means: the vertices posed by FLAME's LBS (``emoctl.flame.FLAME``) for each frame;
- scales: isotropic, ``scale_factor`` x the mean length of the edges around the vertex in that
  frame (so the sparse crown and the dense face are both covered), clamped to ``max_scale``;
- rotations: identity quaternions; opacity ``opacity`` (high: an opaque skin);
- colours: the per-vertex albedo (identity albedo + emotion cues), shaded per frame with a fixed
  world-space light (ambient + two Lambertian lights) from the posed vertex normals, so
  geometry shows in the pixels.

Rendering goes through :func:`emoctl.render.rasterize` (the CPU tile rasterizer, or gsplat on
CUDA), ``chunk_frames`` frames at a time to bound memory, one camera at a time. Skin Gaussians
facing clearly away from a camera in a frame get zero opacity (which the rasterizer culls
exactly) in that frame, and those hidden in every frame of the chunk are left out; they are
behind the head anyway, so this only saves time. (The chunk size changes float rounding, by at most
a level in rare pixels.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from emoctl.data import CameraRig
from emoctl.errors import ShapeError
from emoctl.flame import FLAME, FlameModelData
from emoctl.flame_schema import FRAME_KEYS
from emoctl.synthetic.mesh_ops import mean_edge_length, vertex_normals


@dataclass(frozen=True)
class RenderSettings:
    """Everything about the Gaussians and the lighting that affects pixels (recorded in configs).

    ``mouth_scale`` scales the Gaussians of the mouth's cavity, not those of the teeth or the tongue
    (1: the cavity is wider than the widest smile, and larger Gaussians there, sorted by their
    centres, would paint over the cheeks beside it); ``light_key`` / ``light_fill``: world-space
    directions towards the lights (normalised here); ``background``: RGB in [0, 1];
    ``backface_cull``: facing cosine below which skin Gaussians are dropped for a camera
    (``None``: never).
    """

    scale_factor: float = 0.6
    mouth_scale: float = 1.0
    max_scale: float = 0.012
    opacity: float = 0.99
    ambient: float = 0.3
    key_strength: float = 0.7
    fill_strength: float = 0.18
    light_key: tuple[float, float, float] = (0.35, 0.45, 1.0)
    light_fill: tuple[float, float, float] = (-0.8, -0.1, 0.5)
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    backface_cull: float | None = -0.6

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}


def mouth_cavity(head: FlameModelData) -> Tensor | None:
    """``[V]`` the mouth's cavity: the mouth interior without the teeth and the tongue (None when the
    head has no ``mouth_interior`` region)."""
    mouth = head.regions.get("mouth_interior")
    if mouth is None:
        return None
    solid = torch.zeros_like(mouth)
    for name in ("teeth", "tongue"):
        if name in head.regions:
            solid = torch.maximum(solid, (head.regions[name] > 0).to(mouth.dtype))
    return mouth * (1.0 - solid)


def scale_rig(rig: CameraRig, height: int, width: int) -> CameraRig:
    """``rig`` with its intrinsics rescaled to ``height x width`` pixels (same poses and field of view)."""
    if (rig.height, rig.width) == (height, width):
        return rig
    K = rig.K.clone()
    K[:, 0, :] *= width / rig.width
    K[:, 1, :] *= height / rig.height
    return CameraRig(rig.c2w.clone(), K, width, height)


class GaussianHead:
    """Renders the synthetic head as Gaussians: ``GaussianHead(head).render(flame, betas, albedo, rig)``.

    ``head`` is the (subdivided) synthetic head model; ``settings`` a :class:`RenderSettings`.
    """

    def __init__(self, head: FlameModelData, settings: RenderSettings | None = None):
        self.head = head
        self.settings = settings or RenderSettings()
        self.flame = FLAME(head)
        self.faces = head.faces
        self.num_vertices = head.num_vertices
        skin = head.regions.get("skin")
        self.cullable = (skin > 0.5) if skin is not None else torch.ones(head.num_vertices, dtype=torch.bool)
        s = self.settings
        self._scale_gain = torch.full((head.num_vertices,), s.scale_factor)
        cavity = mouth_cavity(head)
        if cavity is not None:
            self._scale_gain = self._scale_gain * (1.0 + (s.mouth_scale - 1.0) * cavity)
        self._key = torch.tensor(s.light_key, dtype=torch.float32)
        self._key = self._key / self._key.norm()
        self._fill = torch.tensor(s.light_fill, dtype=torch.float32)
        self._fill = self._fill / self._fill.norm()

    # ------------------------------------------------------------------ geometry
    def posed_vertices(self, flame: Mapping[str, Tensor], betas: Tensor | None = None) -> Tensor:
        """Vertices ``[T, V, 3]`` of a FLAME sequence (``expr [T, 100]``, ``jaw_pose [T, 3]``, ...;
        missing entries are zeros) with identity shape ``betas [S]`` (or the sequence's own)."""
        params: dict[str, Tensor] = {}
        for key in FRAME_KEYS:
            if key in flame:
                value = torch.as_tensor(flame[key], dtype=torch.float32)
                if value.dim() != 2:
                    raise ShapeError(f"FLAME sequence entry {key!r} must be [T, D], got {list(value.shape)}")
                params[key] = value.unsqueeze(0)
        if not params:
            raise ShapeError(f"FLAME sequence has none of the per-frame entries {list(FRAME_KEYS)}")
        shape = betas if betas is not None else flame.get("betas")
        if shape is not None:
            shape = torch.as_tensor(shape, dtype=torch.float32)
            if shape.dim() != 1:
                raise ShapeError(f"betas must be [S], got {list(shape.shape)}")
            params["betas"] = shape.unsqueeze(0)
        with torch.no_grad():
            return self.flame(params).vertices[0]

    def shade(self, normals: Tensor, albedo: Tensor) -> Tensor:
        """Colours ``[T, V, 3]``: ``albedo [V, 3]`` (or ``[T, V, 3]``) lit from unit ``normals [T, V, 3]``."""
        s = self.settings
        key = (normals @ self._key).clamp_min(0.0)
        fill = (normals @ self._fill).clamp_min(0.0)
        light = s.ambient + s.key_strength * key + s.fill_strength * fill
        return (albedo * light.unsqueeze(-1)).clamp(0.0, 1.0)

    def gaussian_scales(self, vertices: Tensor) -> Tensor:
        """Isotropic scales ``[T, V, 3]`` from the local edge lengths of ``vertices [T, V, 3]``."""
        s = self.settings
        size = (self._scale_gain * mean_edge_length(vertices, self.faces)).clamp(max=s.max_scale)
        return size.unsqueeze(-1).expand(*size.shape, 3)

    def hidden(self, vertices: Tensor, normals: Tensor, centre: Tensor) -> Tensor:
        """``[t, N]`` True for the skin Gaussians that face away from a camera at ``centre [3]`` (facing
        cosine below ``backface_cull``) in that frame; they are hidden behind the head."""
        threshold = self.settings.backface_cull
        if threshold is None:
            return torch.zeros(vertices.shape[:-1], dtype=torch.bool)
        to_cam = centre - vertices  # [t, N, 3]
        facing = (normals * to_cam).sum(-1) / to_cam.norm(dim=-1).clamp_min(1e-9)
        return (facing < threshold) & self.cullable

    # ------------------------------------------------------------------ rendering
    def render(
        self,
        flame: Mapping[str, Tensor],
        betas: Tensor | None,
        albedo: Tensor,
        rig: CameraRig,
        *,
        chunk_frames: int = 8,
    ) -> np.ndarray:
        """Frames uint8 ``[T, V, H, W, 3]`` of the sequence in every camera of ``rig``.

        ``flame``: a FLAME sequence (``expr [T, 100]``, ``jaw_pose [T, 3]``, ...; missing entries are
        zeros); ``betas [S]`` (None: ``flame["betas"]`` or zeros); ``albedo [N, 3]`` per vertex in
        [0, 1] (constant over the clip) or ``[T, N, 3]``.
        """
        from emoctl.render import rasterize
        from emoctl.media import to_uint8

        if isinstance(chunk_frames, bool) or not isinstance(chunk_frames, int) or chunk_frames < 1:
            raise ShapeError(f"chunk_frames must be a positive int, got {chunk_frames!r}")
        if not isinstance(rig, CameraRig):
            raise ShapeError(f"rig must be an emoctl.data.CameraRig, got {type(rig).__name__}")
        albedo = torch.as_tensor(albedo, dtype=torch.float32)
        if albedo.dim() not in (2, 3) or albedo.shape[-2:] != (self.num_vertices, 3):
            raise ShapeError(f"albedo must be [{self.num_vertices}, 3] (or [T, {self.num_vertices}, 3]), got {list(albedo.shape)}")
        lengths = {int(flame[k].shape[0]) for k in FRAME_KEYS if k in flame}
        if len(lengths) != 1:
            raise ShapeError(f"FLAME sequence entries must share one frame count, got {sorted(lengths)}")
        num_frames = lengths.pop()
        if albedo.dim() == 3 and albedo.shape[0] != num_frames:
            raise ShapeError(f"albedo has {albedo.shape[0]} frames, the FLAME sequence {num_frames}")
        viewmats = torch.linalg.inv(rig.c2w.double()).float()  # [C, 4, 4] world -> camera (OpenCV)
        centres = rig.c2w[:, :3, 3]  # [C, 3]
        background = torch.tensor(self.settings.background, dtype=torch.float32)
        quats = torch.zeros(self.num_vertices, 4)
        quats[:, 0] = 1.0
        opacities = torch.full((1, self.num_vertices), self.settings.opacity)
        shape = betas if betas is not None else flame.get("betas")
        out = np.empty((num_frames, rig.num_views, rig.height, rig.width, 3), dtype=np.uint8)
        for start in range(0, num_frames, chunk_frames):
            stop = min(num_frames, start + chunk_frames)
            part = {k: v[start:stop] for k, v in flame.items() if k in FRAME_KEYS}
            with torch.no_grad():
                verts = self.posed_vertices(part, shape)  # [t, N, 3]
                normals = vertex_normals(verts, self.faces)
                colors = self.shade(normals, albedo[start:stop] if albedo.dim() == 3 else albedo)
                scales = self.gaussian_scales(verts)
                for view in range(rig.num_views):
                    hidden = self.hidden(verts, normals, centres[view])  # [t, N]
                    keep = (~hidden.all(dim=0)).nonzero().squeeze(1)  # seen in some frame of the chunk
                    opacity = opacities.masked_fill(hidden, 0.0)[:, keep]  # per frame: 0 culls exactly
                    images, _ = rasterize(
                        verts[:, keep],
                        quats[keep],
                        scales[:, keep],
                        opacity,
                        colors[:, keep],
                        viewmats[view : view + 1],
                        rig.K[view : view + 1],
                        rig.width,
                        rig.height,
                        backgrounds=background,
                    )  # [t, 1, H, W, 3]
                    out[start:stop, view] = to_uint8(images[:, 0])
        return out
