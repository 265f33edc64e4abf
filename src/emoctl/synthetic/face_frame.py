"""Face-local coordinates of a synthetic head's rest mesh, shared by the albedo and the emotion cues.

Patterns (hairline, brows, wrinkles, folds, flush) are drawn in the frontal projection ``(x, y)``
of the rest template (the face looks along +z), anchored to the head's landmarks and region
masks, so they land on the same facial features at every subdivision level and move with the
surface when the head is posed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoctl.errors import ShapeError
from emoctl.flame import FlameModelData
from emoctl.synthetic.head_model.surface import gauss, smoothstep  # the head's own helpers (re-exported here)

_REQUIRED_LANDMARKS = (
    "mouth_corner_l", "nose_tip", "chin", "brow_inner_l", "brow_outer_l", "upper_lid_l", "lower_lid_l",
    "eye_center_l", "forehead_center", "cheek_l",
)  # fmt: skip
_REQUIRED_REGIONS = (
    "forehead", "brows", "glabella", "eyelids", "eye_corners", "cheeks", "nose", "nasolabial", "lips",
    "scalp", "ears", "neck", "eyeballs", "iris", "pupil", "mouth_interior", "skin",
)  # fmt: skip


@dataclass
class FaceFrame:
    """Per-vertex rest coordinates (``x, y, z`` ``[V]``, metres), region masks ``[V]`` and the
    landmark points ``[3]`` (left side; mirror with ``x -> -x``) of a synthetic head."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    regions: dict[str, np.ndarray]
    landmarks: dict[str, np.ndarray]
    outer_canthus: np.ndarray  # [3], left eye

    @property
    def ax(self) -> np.ndarray:
        return np.abs(self.x)

    @property
    def num_vertices(self) -> int:
        return int(self.x.shape[0])

    @property
    def front(self) -> np.ndarray:
        """Skin facing the front camera (soft, [V])."""
        return smoothstep(0.0, 0.035, self.z) * self.regions["skin"]

    @classmethod
    def of(cls, head: FlameModelData) -> "FaceFrame":
        """The frame of a synthetic head (``ShapeError`` if a landmark or region it needs is missing)."""
        names = list(head.landmark_names)
        missing = [n for n in _REQUIRED_LANDMARKS if n not in names]
        missing += [f"region {r}" for r in _REQUIRED_REGIONS if r not in head.regions]
        if missing or head.lmk_faces_idx is None or head.lmk_bary_coords is None:
            raise ShapeError(
                f"the synthetic world needs a synthetic FLAME head (emoctl.synthetic.SyntheticFLAME); this head "
                f"(source {head.source!r}) lacks {missing or ['a landmark embedding']}"
            )
        P = head.v_template.double().numpy()
        corners = P[head.faces[head.lmk_faces_idx].numpy()]  # [L, 3, 3]
        points = np.einsum("lkc,lk->lc", corners, head.lmk_bary_coords.double().numpy())
        landmarks = {n: points[i] for i, n in enumerate(names)}
        regions = {k: v.double().numpy() for k, v in head.regions.items()}
        weight = regions["eye_corners"] * (P[:, 0] > 0)
        centroid = (weight[:, None] * P).sum(0) / max(weight.sum(), 1e-9)
        outer = centroid - np.array([0.008, 0.001, 0.0])
        return cls(x=P[:, 0], y=P[:, 1], z=P[:, 2], regions=regions, landmarks=landmarks, outer_canthus=outer)

    def lm(self, name: str) -> np.ndarray:
        return self.landmarks[name]


def smooth_noise(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, bumps: int, sigma: tuple[float, float],
                 box: tuple[float, float, float, float]) -> np.ndarray:
    """A random smooth field ``[V]`` in about [-1, 1]: ``bumps`` signed Gaussian bumps with widths in
    ``sigma`` (metres) at random centres in ``box = (x0, x1, y0, y1)``, mirrored left/right."""
    out = np.zeros_like(x)
    for _ in range(bumps):
        cx, cy = rng.uniform(box[0], box[1]), rng.uniform(box[2], box[3])
        s = rng.uniform(*sigma)
        w = rng.normal()
        out += w * gauss(np.hypot(np.abs(x) - abs(cx), y - cy), s)
    peak = np.abs(out).max()
    return out / peak if peak > 0 else out


def distance_to_polyline(px: np.ndarray, py: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance ``[V]`` from points ``(px, py)`` to a polyline ``pts [K, 2]``, and the arc parameter
    ``[V]`` in [0, 1] of the nearest point."""
    best = np.full(px.shape, np.inf)
    param = np.zeros(px.shape)
    seg_len = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    for k in range(len(pts) - 1):
        a, b = pts[k], pts[k + 1]
        d = b - a
        t = np.clip(((px - a[0]) * d[0] + (py - a[1]) * d[1]) / max(d @ d, 1e-12), 0.0, 1.0)
        dist = np.hypot(px - (a[0] + t * d[0]), py - (a[1] + t * d[1]))
        closer = dist < best
        best = np.where(closer, dist, best)
        param = np.where(closer, (cum[k] + t * seg_len[k]) / max(cum[-1], 1e-12), param)
    return best, param
