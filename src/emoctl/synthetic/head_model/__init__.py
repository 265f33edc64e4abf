"""emoctl.synthetic.head_model: a procedural head in FLAME's parameter space (:class:`SyntheticFLAME`).

    data = make_synthetic_flame(seed=0)      # an emoctl.flame.FlameModelData, source="synthetic"
    flame = emoctl.flame.FLAME(data)         # runs like any converted FLAME model

FLAME's parameter space and joint tree on an own procedural mesh (no FLAME data): about 5,000
vertices at the default resolution (the same topology for every seed), a mouth slit that opens
with the jaw, open eye fissures with eyeballs, and inside the mouth a dark cavity, upper and
lower teeth and a tongue (skinned to the head and the jaw), UVs.
``expression_components`` starts with the 18 names of :data:`SEMANTIC_EXPRESSIONS`
(``lip_corner_pull`` ... ``lip_tighten``, one FACS action unit each, :data:`ACTION_UNITS`; each
acts inside the regions listed in :data:`EXPRESSION_REGIONS`), then ``component_18`` ...
``component_99``; the first 20 shape components are :data:`SHAPE_COMPONENTS`. Landmarks:
:data:`LANDMARK_NAMES` (``_l`` is the subject's left, +x). Regions: :data:`REGION_NAMES` (the
brief's list plus ``iris``, ``pupil``, ``vermilion`` (the red of the lips), ``lash_line``,
``teeth`` and ``tongue``).
Edges are about 4 mm long on the face and about 2 cm on the crown and neck (half that after one
subdivision; the flat neck-bottom cap is a coarse fan): size Gaussians from local edge lengths
rather than with one global scale.

Modules: ``surface`` (the analytic skin surface and the head's proportions), ``mesh`` (the
triangulated head: skin grid with slits, inner parts, UVs), ``interior`` (eyeballs, teeth, tongue,
mouth cavity), ``fields`` (per-vertex frames,
region masks, skinning weights, joint regressor, landmarks), ``bases`` (shape and pose
blendshapes, the fields' per-vertex context), ``expressions`` (the expression blendshapes: FACS
action units and the random tail), ``builder`` (:class:`SyntheticFLAME`, which puts them together).
"""

from emoctl.synthetic.head_model.bases import SHAPE_COMPONENTS
from emoctl.synthetic.head_model.expressions import ACTION_UNITS, EXPRESSION_REGIONS, LOWER_FACE, SEMANTIC_EXPRESSIONS
from emoctl.synthetic.head_model.builder import SyntheticFLAME, make_synthetic_flame
from emoctl.synthetic.head_model.fields import LANDMARK_NAMES, REGION_NAMES

__all__ = [
    "ACTION_UNITS",
    "EXPRESSION_REGIONS",
    "LANDMARK_NAMES",
    "LOWER_FACE",
    "REGION_NAMES",
    "SEMANTIC_EXPRESSIONS",
    "SHAPE_COMPONENTS",
    "SyntheticFLAME",
    "make_synthetic_flame",
]
