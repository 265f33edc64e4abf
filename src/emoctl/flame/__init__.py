"""emoctl.flame: FLAME head models without pickled code, the FLAME layer, subdivision.

    data = load_flame_model("flame2023.safetensors")        # or an official .pkl (read safely)
    flame = FLAME(data)                                       # buffers only; smplx.lbs inside
    out = flame({"betas": betas, "expr": expr, "jaw_pose": jaw})   # out.vertices [B, (T,) V, 3]
    dense = subdivide(data)                                   # 5,023 -> 20,018 vertices (LAM's anchors)

Official files: ``convert("generic_model.pkl", "flame2020.safetensors",
landmark_path="landmark_embedding.npy")`` once (CLI: ``emoctl flame convert``); pickles are read by
a restricted unpickler that admits only numpy/scipy-sparse/chumpy array reconstruction (chumpy
need not be installed, scipy is not called) and refuses everything else with
:class:`~emoctl.errors.CheckpointError`.

Converted format (one ``.safetensors`` file, format version 1)
--------------------------------------------------------------
Tensors (V vertices, F faces, J = 5 joints; floats are float32, indices int64):

=========================  ==============  ======================================================
key                        shape           meaning
=========================  ==============  ======================================================
``v_template``             ``[V, 3]``      rest mesh, metres; y up, the face looks along +z,
                                           the subject's left is +x
``shapedirs``              ``[V, 3, 300]`` identity blendshapes (FLAME ``shapedirs[..., :300]``)
``exprdirs``               ``[V, 3, 100]`` expression blendshapes (``shapedirs[..., 300:]``)
``posedirs``               ``[V, 3, 36]``  pose correctives; component ``9 * (j - 1) + 3 * r + c``
                                           multiplies ``(R_j - I)[r, c]`` (rotation matrix of joint
                                           ``j`` = 1 neck, 2 jaw, 3 left eye, 4 right eye, minus
                                           identity, row ``r``, column ``c``), as FLAME/smplx
``J_regressor``            ``[5, V]``      dense; rest joints = ``J_regressor @ shaped vertices``
``parents``                ``[5]``         ``[-1, 0, 1, 1, 1]``: global -> neck -> jaw / eyes
``lbs_weights``            ``[V, 5]``      skinning weights, rows sum to 1
``faces``                  ``[F, 3]``      triangles, counter-clockwise seen from outside
``uvs`` (optional)         ``[U, 2]``      texture coordinates in [0, 1]
``faces_uv`` (optional)    ``[F, 3]``      UV index of each face corner (seams allowed)
``lmk_faces_idx`` (opt.)   ``[L]``         face of each landmark
``lmk_bary_coords`` (opt.) ``[L, 3]``      barycentric coordinates in that face
``region.<name>`` (opt.)   ``[V]``         soft region mask in [0, 1]
=========================  ==============  ======================================================

String metadata: ``format = "emoctl-flame"``, ``format_version = "1"``, ``source`` (``FLAME2020``,
``FLAME2023``, ``synthetic``, ...), and, where present, ``landmark_names`` and
``expression_components`` as JSON lists. Loading validates every shape and the consistency of the
file (index ranges, weight rows summing to 1, masks in [0, 1], finite values) and raises
:class:`~emoctl.errors.CheckpointError` naming the bad key.

Pose parameters (LAM's ``flame_params``): ``rotation`` drives joint 0, ``neck_pose`` joint 1,
``jaw_pose`` joint 2, ``eyes_pose[..., :3]`` joint 3 (left eye) and ``eyes_pose[..., 3:]`` joint 4
(right eye), all axis-angle; ``translation`` is added after skinning.

Official files accepted: ``generic_model.pkl`` / ``flame2023.pkl`` (and the same dict as
``.npz``); landmark embeddings ``flame_static_embedding.pkl`` (51 points), DECA/LAM's
``landmark_embedding.npy`` (``full_lmk_*``, 68 points) and ``.npz`` files such as
``mediapipe_landmark_embedding.npz``.

A procedural head in the same parameter space (no FLAME data), for tests and the synthetic world:
:class:`emoctl.synthetic.SyntheticFLAME` / :func:`emoctl.synthetic.make_synthetic_flame`.
"""

from emoctl.flame.data import (
    FLAME_PARENTS,
    JOINT_NAMES,
    NUM_EXPRESSION,
    NUM_JOINTS,
    NUM_POSE_FEATURES,
    NUM_SHAPE,
    FlameModelData,
    validate_model_data,
)
from emoctl.flame.io import FORMAT_NAME, FORMAT_VERSION, convert, load_flame_model, load_landmark_embedding, save_flame_model
from emoctl.flame.layer import FLAME, PARAM_SIZES, FlameOutput
from emoctl.flame.subdivide import MidpointSubdivision, midpoint_subdivision, subdivide

__all__ = [
    "FLAME",
    "FLAME_PARENTS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "JOINT_NAMES",
    "NUM_EXPRESSION",
    "NUM_JOINTS",
    "NUM_POSE_FEATURES",
    "NUM_SHAPE",
    "PARAM_SIZES",
    "FlameModelData",
    "FlameOutput",
    "MidpointSubdivision",
    "convert",
    "load_flame_model",
    "load_landmark_embedding",
    "midpoint_subdivision",
    "save_flame_model",
    "subdivide",
    "validate_model_data",
]
