"""`SyntheticFLAME`: a procedurally generated head in FLAME's exact parameter space.

It carries no data from the official FLAME model. Same 300 shape and 100 expression coefficients,
the same joints (global -> neck -> jaw, neck -> left eye, neck -> right eye) and pose-feature
layout, FLAME-like metric scale (about 0.16 m wide, y up, the face looking along +z, the
subject's left at +x), so everything written against FLAME runs on it unchanged:

- mesh: a warped latitude-longitude skin (skull, face, nose, brow ridge, cheeks, chin, simple
  ears, neck stub) with a mouth slit (closed at rest; the lower lip is skinned to the jaw, so the
  lips part when the jaw opens) and two open eye fissures with real-face proportions, eyeballs
  skinned to the eye joints, and behind the lips a dark mouth cavity, upper teeth (skinned to
  the neck joint, i.e. the head), lower teeth and a tongue (skinned to the jaw); UVs (skin atlas
  above, tiles for the inner parts below);
- shape bases: 20 interpretable components (:data:`SHAPE_COMPONENTS`), then smooth random
  fields with decaying amplitude up to 300;
- expression bases: 18 named, localised components, one FACS action unit each
  (:data:`SEMANTIC_EXPRESSIONS`, :data:`~emoctl.synthetic.head_model.expressions.ACTION_UNITS`; a
  marked real-face action of a few mm per unit, left/right symmetric; ``eye_close = 1`` shuts the
  lids), then localised random fields ``component_18`` ... ``component_99``;
- named landmarks (:data:`LANDMARK_NAMES`) and soft region masks (:data:`REGION_NAMES`).

Deterministic: the same seed gives bit-identical tensors; seeds differ in the proportions of the
features (a few per cent) and in the random tails.
"""

from __future__ import annotations

import numpy as np
import torch

from emoctl.errors import ShapeError
from emoctl.flame.data import FLAME_PARENTS, NUM_EXPRESSION, NUM_SHAPE, FlameModelData, validate_model_data
from emoctl.synthetic.head_model.bases import SHAPE_COMPONENTS, pose_correctives, semantic_shapes, shape_tail
from emoctl.synthetic.head_model.expressions import SEMANTIC_EXPRESSIONS, expression_tail, semantic_expressions
from emoctl.synthetic.head_model.fields import (
    LANDMARK_NAMES,
    REGION_NAMES,
    compute_frames,
    find_anchors,
    jaw_weight,
    joint_regressor,
    landmark_embedding,
    landmark_vertices,
    region_masks,
    skinning_weights,
)
from emoctl.synthetic.head_model.mesh import HeadMesh, build_head_mesh
from emoctl.synthetic.head_model.surface import HeadLayout

_BASE_ROWS, _BASE_COLS = 58, 76


class SyntheticFLAME:
    """Generator of a synthetic FLAME-compatible head: ``SyntheticFLAME(seed).build()``.

    ``resolution`` scales the skin grid (1.0: 58 rows x 76 columns, about 5,000 vertices in all;
    0.75 to 2.0 allowed). ``variation`` scales how much the seed changes the proportions (0 gives
    the reference proportions for every seed; the random tails still follow the seed).
    After :meth:`build`, ``self.mesh`` holds the generator's bookkeeping (rows, columns, mirror
    map, slit copies) for tests and tools.
    """

    def __init__(self, seed: int = 0, resolution: float = 1.0, variation: float = 1.0):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ShapeError(f"SyntheticFLAME: seed must be a non-negative int, got {seed!r}")
        if not 0.75 <= float(resolution) <= 2.0:
            raise ShapeError(f"SyntheticFLAME: resolution must lie in [0.75, 2.0], got {resolution!r}")
        if not 0.0 <= float(variation) <= 2.0:
            raise ShapeError(f"SyntheticFLAME: variation must lie in [0, 2], got {variation!r}")
        self.seed = int(seed)
        self.resolution = float(resolution)
        self.variation = float(variation)
        self.mesh: HeadMesh | None = None

    def layout(self) -> HeadLayout:
        rng = np.random.default_rng([self.seed, 0])
        return HeadLayout().perturbed(rng, scale=0.03 * self.variation)

    def build(self) -> FlameModelData:
        """Generate the head model (float32 tensors, ``source="synthetic"``)."""
        n_rows = int(round(_BASE_ROWS * self.resolution))
        n_cols = 2 * int(round(_BASE_COLS * self.resolution / 2))
        mesh = build_head_mesh(self.layout(), n_rows, n_cols)
        self.mesh = mesh
        frames = compute_frames(mesh)
        anchors = find_anchors(mesh)
        rng_shape = np.random.default_rng([self.seed, 1])
        rng_expr = np.random.default_rng([self.seed, 2])
        shapes = np.concatenate([semantic_shapes(mesh, frames, anchors), shape_tail(mesh, rng_shape, NUM_SHAPE - len(SHAPE_COMPONENTS))])
        regions = region_masks(mesh, anchors, jaw_weight(mesh))
        exprs = np.concatenate(
            [semantic_expressions(mesh, frames, anchors), expression_tail(mesh, frames, rng_expr, NUM_EXPRESSION - len(SEMANTIC_EXPRESSIONS))]
        )
        lmk_idx, lmk_bary = landmark_embedding(mesh, landmark_vertices(mesh, anchors))

        def f32(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

        data = FlameModelData(
            v_template=f32(mesh.points),
            shapedirs=f32(shapes.transpose(1, 2, 0)),
            exprdirs=f32(exprs.transpose(1, 2, 0)),
            posedirs=f32(pose_correctives(mesh, frames, anchors)),
            J_regressor=f32(joint_regressor(mesh)),
            parents=torch.tensor(FLAME_PARENTS, dtype=torch.int64),
            lbs_weights=f32(skinning_weights(mesh)),
            faces=torch.from_numpy(mesh.faces.astype(np.int64)),
            uvs=f32(mesh.uvs),
            faces_uv=torch.from_numpy(mesh.faces_uv.astype(np.int64)),
            lmk_faces_idx=torch.from_numpy(lmk_idx),
            lmk_bary_coords=f32(lmk_bary),
            regions={name: f32(regions[name]) for name in REGION_NAMES},
            landmark_names=list(LANDMARK_NAMES),
            expression_components=list(SEMANTIC_EXPRESSIONS)
            + [f"component_{i}" for i in range(len(SEMANTIC_EXPRESSIONS), NUM_EXPRESSION)],
            source="synthetic",
        )
        validate_model_data(data)
        return data


def make_synthetic_flame(seed: int = 0, **kwargs) -> FlameModelData:
    """``SyntheticFLAME(seed, **kwargs).build()``."""
    return SyntheticFLAME(seed=seed, **kwargs).build()
