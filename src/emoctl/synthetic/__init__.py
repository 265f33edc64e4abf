"""emoctl.synthetic: a synthetic emotion world standing in for the paper's data (sections 3.3, S1.2).

A synthetic FLAME-compatible head (:class:`SyntheticFLAME`, :mod:`emoctl.synthetic.head_model`), a
ground-truth model of how the seven emotions act on it (:class:`EmotionModel`: static offsets,
articulation coupling, identity-aware appearance cues), speech-like anchors rendered in every
emotion with identical timing (:func:`make_anchor`), many identities with procedural albedo and one
reference image each (:class:`IdentitySampler`), and a reenactor that renders ground truth through
:func:`emoctl.render.rasterize` (:class:`SyntheticReenactor`, an :class:`emoctl.data.Reenactor`).

    from emoctl.synthetic import build_recipe, build_synthetic_dataset
    build_recipe("benchmark", "data/bench")        # train/val/test of both configurations (recipes.py)
    build_synthetic_dataset("data/demo", identities=64, anchors=2, frames=16, image_size=128, views=3)

See ``docs/synthetic-world.md``. Importing this package builds nothing: the head is built (and
cached) on first use.
"""

from emoctl.synthetic.anchors import anchor_intensities, make_anchor, make_anchors
from emoctl.synthetic.avatar import GaussianHead, RenderSettings, scale_rig
from emoctl.synthetic.cameras import camera_rig, default_rig
from emoctl.synthetic.cues import CUES, cue_fields, groove_depth
from emoctl.synthetic.emotion_curves import EmotionCurve, Transition, sample_curve
from emoctl.synthetic.emotion_model import CUE_WEIGHTS, STATIC_OFFSETS, EmotionModel, SpeakerStyle
from emoctl.synthetic.head import synthetic_head
from emoctl.synthetic.head_model import EXPRESSION_REGIONS, LANDMARK_NAMES, REGION_NAMES, SEMANTIC_EXPRESSIONS, SHAPE_COMPONENTS
from emoctl.synthetic.head_model import SyntheticFLAME, make_synthetic_flame
from emoctl.synthetic.identities import IdentitySampler, make_identity, sample_betas, sample_traits
from emoctl.synthetic.recipe_build import build_recipe
from emoctl.synthetic.recipes import RECIPES, KindRecipe, Recipe, SplitSizes, recipe
from emoctl.synthetic.reenactor import SyntheticReenactor
from emoctl.synthetic.speech import VISEMES, Articulation, generate_speech, still_articulation
from emoctl.synthetic.traits import IdentityTraits
from emoctl.synthetic.world import (
    GeometrySequences,
    SyntheticWorld,
    anchor_frames_for,
    build_synthetic_dataset,
    geometry_sequences,
)

__all__ = [
    "CUES",
    "CUE_WEIGHTS",
    "EXPRESSION_REGIONS",
    "LANDMARK_NAMES",
    "REGION_NAMES",
    "SEMANTIC_EXPRESSIONS",
    "SHAPE_COMPONENTS",
    "STATIC_OFFSETS",
    "VISEMES",
    "Articulation",
    "EmotionCurve",
    "EmotionModel",
    "GaussianHead",
    "GeometrySequences",
    "IdentitySampler",
    "IdentityTraits",
    "KindRecipe",
    "RECIPES",
    "Recipe",
    "RenderSettings",
    "SpeakerStyle",
    "SplitSizes",
    "SyntheticReenactor",
    "SyntheticFLAME",
    "SyntheticWorld",
    "Transition",
    "anchor_frames_for",
    "anchor_intensities",
    "build_recipe",
    "build_synthetic_dataset",
    "camera_rig",
    "cue_fields",
    "default_rig",
    "generate_speech",
    "geometry_sequences",
    "groove_depth",
    "make_anchor",
    "make_anchors",
    "make_identity",
    "make_synthetic_flame",
    "recipe",
    "sample_betas",
    "sample_curve",
    "sample_traits",
    "scale_rig",
    "still_articulation",
    "synthetic_head",
]
