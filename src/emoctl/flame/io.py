"""Reading and writing FLAME-format models: converted safetensors, official pickles, landmarks.

- :func:`load_flame_model` reads a converted ``.safetensors`` file, or an official FLAME pickle
  through the restricted unpickler of :mod:`emoctl.flame.safe_pickle`.
- :func:`save_flame_model` writes the converted format atomically.
- :func:`convert` is the one-time pickle -> safetensors conversion (``emoctl flame convert``).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from torch import Tensor

from emoctl._files import atomic_write_bytes
from emoctl.errors import CheckpointError
from emoctl.flame.data import (
    FLAME_PARENTS,
    INDEX_TENSORS,
    NUM_EXPRESSION,
    NUM_JOINTS,
    NUM_POSE_FEATURES,
    NUM_SHAPE,
    OPTIONAL_TENSORS,
    REQUIRED_TENSORS,
    FlameModelData,
    validate_model_data,
)
from emoctl.flame.safe_pickle import restricted_load

FORMAT_NAME = "emoctl-flame"
FORMAT_VERSION = 1

PathLike = str | os.PathLike


# --------------------------------------------------------------------------------------------
# converted format


def save_flame_model(data: FlameModelData, path: PathLike) -> Path:
    """Validate ``data`` and write it as one ``.safetensors`` file (temporary file + ``os.replace``).

    Float tensors are stored as float32, index tensors as int64. Returns the path written. An
    invalid model raises :class:`CheckpointError` and leaves any existing file untouched.
    """
    from safetensors.torch import save

    path = Path(path)
    validate_model_data(data)
    tensors = {
        key: (t.detach().to("cpu", torch.int64) if key in INDEX_TENSORS else t.detach().to("cpu", torch.float32)).contiguous()
        for key, t in data.tensors().items()
    }
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "source": data.source,
    }
    if data.landmark_names:
        metadata["landmark_names"] = json.dumps(list(data.landmark_names))
    if data.expression_components:
        metadata["expression_components"] = json.dumps(list(data.expression_components))
    payload = save(tensors, metadata=metadata)
    atomic_write_bytes(path, payload)
    return path


def _is_safetensors(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(9)
    except OSError as exc:
        raise CheckpointError(f"cannot open '{path}': {exc.strerror or exc}") from exc
    if len(head) < 9:
        return path.suffix == ".safetensors"
    header_len = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 0 < header_len < 100_000_000


def _load_converted(path: Path) -> FlameModelData:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(f"cannot read '{path}': not a valid safetensors file ({type(exc).__name__}: {exc})") from exc
    if metadata.get("format") != FORMAT_NAME:
        raise CheckpointError(f"'{path}' is not an emoctl FLAME file: metadata 'format' is {metadata.get('format')!r}, expected {FORMAT_NAME!r}")
    version = metadata.get("format_version")
    if version != str(FORMAT_VERSION):
        raise CheckpointError(f"'{path}' has format_version {version!r}; this emoctl reads version {FORMAT_VERSION}")
    fields: dict[str, Any] = {}
    regions: dict[str, Tensor] = {}
    for key, t in tensors.items():
        if key.startswith("region."):
            regions[key[len("region.") :]] = t
        elif key in REQUIRED_TENSORS or key in OPTIONAL_TENSORS:
            fields[key] = t
        else:
            raise CheckpointError(f"'{path}' holds an unknown tensor {key!r}")
    for key in REQUIRED_TENSORS:
        if key not in fields:
            raise CheckpointError(f"'{path}' lacks the required tensor {key!r}")
    data = FlameModelData(
        **fields,
        regions=regions,
        landmark_names=_json_list(metadata, "landmark_names", path),
        expression_components=_json_list(metadata, "expression_components", path),
        source=metadata.get("source", ""),
    )
    try:
        validate_model_data(data)
    except CheckpointError as exc:
        raise CheckpointError(f"'{path}': {exc}") from exc
    return data


def _json_list(metadata: dict[str, str], key: str, path: Path) -> list[str]:
    if key not in metadata:
        return []
    try:
        value = json.loads(metadata[key])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"'{path}': metadata {key!r} is not valid JSON ({exc})") from exc
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CheckpointError(f"'{path}': metadata {key!r} must be a JSON list of strings")
    return value


# --------------------------------------------------------------------------------------------
# official pickles


def infer_source(path: Path) -> str:
    """``FLAME2023`` / ``FLAME2019`` / ``FLAME2017`` when the file name says so, else ``FLAME2020``."""
    name = path.name.lower()
    for year in ("2023", "2019", "2017"):
        if year in name:
            return f"FLAME{year}"
    return "FLAME2020"


def _array(raw: dict, key: str, path: Path, *, ndim: int) -> np.ndarray:
    if key not in raw:
        raise CheckpointError(f"'{path}' is not a FLAME model: it has no {key!r} entry (keys: {sorted(map(str, raw))})")
    value = np.asarray(raw[key])
    if value.dtype.hasobject or not (np.issubdtype(value.dtype, np.number)):
        raise CheckpointError(f"'{path}': {key!r} is not a numeric array (dtype {value.dtype})")
    if value.ndim != ndim:
        raise CheckpointError(f"'{path}': {key!r} has shape {list(value.shape)}, expected {ndim} dimensions")
    return value


def flame_data_from_pickle_dict(raw: Any, path: Path, source: str | None = None) -> FlameModelData:
    """Turn the dict of an official FLAME pickle (chumpy/sparse already resolved) into tensors."""
    if not isinstance(raw, dict):
        raise CheckpointError(f"'{path}' is not a FLAME model: the pickle holds a {type(raw).__name__}, not a dict")
    v_template = _array(raw, "v_template", path, ndim=2)
    shapedirs = _array(raw, "shapedirs", path, ndim=3)
    if shapedirs.shape[-1] != NUM_SHAPE + NUM_EXPRESSION:
        raise CheckpointError(
            f"'{path}': 'shapedirs' has {shapedirs.shape[-1]} components, expected {NUM_SHAPE + NUM_EXPRESSION} "
            f"({NUM_SHAPE} shape + {NUM_EXPRESSION} expression)"
        )
    posedirs = _array(raw, "posedirs", path, ndim=3)
    j_regressor = _array(raw, "J_regressor", path, ndim=2)
    kintree = _array(raw, "kintree_table", path, ndim=2)
    weights = _array(raw, "weights", path, ndim=2)
    faces = _array(raw, "f", path, ndim=2)
    if kintree.shape != (2, NUM_JOINTS):
        raise CheckpointError(f"'{path}': 'kintree_table' has shape {list(kintree.shape)}, expected [2, {NUM_JOINTS}]")
    ids = kintree[1].astype(np.int64)
    if ids.tolist() != list(range(NUM_JOINTS)):
        raise CheckpointError(f"'{path}': 'kintree_table' joint ids are {ids.tolist()}, expected 0..{NUM_JOINTS - 1}")
    parents = kintree[0].astype(np.int64)
    parents[0] = -1  # stored as -1 or as uint32 max (4294967295)
    if not np.issubdtype(faces.dtype, np.integer):
        raise CheckpointError(f"'{path}': 'f' must hold integer vertex indices, got {faces.dtype}")

    def f32(a: np.ndarray) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    data = FlameModelData(
        v_template=f32(v_template),
        shapedirs=f32(shapedirs[:, :, :NUM_SHAPE]),
        exprdirs=f32(shapedirs[:, :, NUM_SHAPE:]),
        posedirs=f32(posedirs),
        J_regressor=f32(j_regressor),
        parents=torch.from_numpy(parents),
        lbs_weights=f32(weights),
        faces=torch.from_numpy(faces.astype(np.int64)),
        source=source or infer_source(path),
    )
    if data.posedirs.shape[-1] != NUM_POSE_FEATURES:
        raise CheckpointError(f"'{path}': 'posedirs' has {data.posedirs.shape[-1]} components, expected {NUM_POSE_FEATURES}")
    if tuple(data.parents.tolist()) != FLAME_PARENTS:
        raise CheckpointError(f"'{path}': 'kintree_table' parents are {data.parents.tolist()}, expected {list(FLAME_PARENTS)}")
    return data


# --------------------------------------------------------------------------------------------
# landmark embeddings


def _read_npy(payload: bytes, origin: str) -> Any:
    """One ``.npy`` payload; object arrays (``np.save`` of a dict) go through the restricted unpickler."""
    from numpy.lib import format as npy_format

    f = io.BytesIO(payload)
    try:
        version = npy_format.read_magic(f)
        read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        _, _, dtype = read_header(f)
        if dtype.hasobject:
            return restricted_load(f, origin=origin)  # a 0-d object array comes back as its item
        f.seek(0)
        return npy_format.read_array(f, allow_pickle=False)
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise CheckpointError(f"cannot read {origin}: not a valid .npy file ({exc})") from exc


def _load_npz(file: BinaryIO, path: Path) -> dict:
    """An ``.npz`` archive (open binary ``file`` of ``path``) as a dict; object members go through the
    restricted unpickler."""
    import zipfile

    try:
        with zipfile.ZipFile(file) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CheckpointError(f"cannot read '{path}': not a valid .npz archive ({exc})") from exc
    return {name.removesuffix(".npy"): _read_npy(data, f"'{path}' member {name!r}") for name, data in members.items()}


def _load_any_dict(path: Path, what: str) -> dict:
    """A pickle, ``.npy`` (holding a dict) or ``.npz`` file as a dict, without executing code.

    The file is opened once: its first bytes pick the reader, which then reads it from the start.
    """
    origin = f"'{path}'"
    try:
        with path.open("rb") as f:
            magic = f.read(6)
            f.seek(0)
            if magic.startswith(b"PK"):
                raw: Any = _load_npz(f, path)
            elif magic.startswith(b"\x93NUMPY"):
                raw = _read_npy(f.read(), origin)
            else:
                raw = restricted_load(f, origin=origin)
    except OSError as exc:  # the readers turn their own errors into CheckpointError; this is open/read
        raise CheckpointError(f"cannot open '{path}': {exc.strerror or exc}") from exc
    if not isinstance(raw, dict):
        raise CheckpointError(f"'{path}' is not {what}: it holds a {type(raw).__name__}, not a dict")
    return raw


_LANDMARK_KEYS = (  # (face index key, barycentric key), in order of preference
    ("full_lmk_faces_idx", "full_lmk_bary_coords"),  # DECA/LAM landmark_embedding.npy: 68 points
    ("lmk_faces_idx", "lmk_bary_coords"),
    ("lmk_face_idx", "lmk_b_coords"),  # flame_static_embedding.pkl (51), mediapipe .npz (105)
    ("static_lmk_faces_idx", "static_lmk_bary_coords"),  # 51 points (iBUG 17..67)
)


def load_landmark_embedding(path: PathLike, num_faces: int | None = None) -> tuple[Tensor, Tensor, list[str]]:
    """Read a FLAME landmark embedding: ``(lmk_faces_idx [L] int64, lmk_bary_coords [L, 3], names)``.

    Accepts ``flame_static_embedding.pkl`` (keys ``lmk_face_idx``/``lmk_b_coords``), DECA's
    ``landmark_embedding.npy`` (``full_lmk_faces_idx``/``full_lmk_bary_coords``, preferred, or the
    static 51), and ``.npz`` files such as ``mediapipe_landmark_embedding.npz``. Pickled content is
    read through the restricted unpickler. Names are ``lmk68_NN`` for 68/51-point iBUG layouts,
    ``mediapipe_N`` when the file lists ``landmark_indices``, else ``lmk_NNN``.
    """
    path = Path(path)
    raw = _load_any_dict(path, "a landmark embedding")
    for idx_key, bary_key in _LANDMARK_KEYS:
        if idx_key in raw and bary_key in raw:
            break
    else:
        raise CheckpointError(f"'{path}' is not a landmark embedding: none of the key pairs {list(_LANDMARK_KEYS)} is present")
    idx = np.asarray(raw[idx_key])
    bary = np.asarray(raw[bary_key])
    while idx.ndim > 1 and idx.shape[0] == 1:  # DECA stores [1, 68] and [1, 68, 3]
        idx, bary = idx[0], bary[0]
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise CheckpointError(
            f"'{path}': {idx_key!r} has shape {list(idx.shape)} ({idx.dtype}); expected a 1-D integer array "
            "(dynamic contour embeddings are not supported)"
        )
    if bary.shape != (idx.shape[0], 3) or not np.issubdtype(bary.dtype, np.floating):
        raise CheckpointError(f"'{path}': {bary_key!r} has shape {list(bary.shape)}, expected [{idx.shape[0]}, 3] floats")
    if num_faces is not None and idx.size and (idx.min() < 0 or idx.max() >= num_faces):
        raise CheckpointError(f"'{path}': {idx_key!r} indexes faces up to {int(idx.max())}, the model has {num_faces}")
    n = idx.shape[0]
    if "landmark_indices" in raw and np.asarray(raw["landmark_indices"]).shape == (n,):
        names = [f"mediapipe_{int(i)}" for i in np.asarray(raw["landmark_indices"])]
    elif n == 68:
        names = [f"lmk68_{i:02d}" for i in range(68)]
    elif n == 51:
        names = [f"lmk68_{i + 17:02d}" for i in range(51)]
    else:
        names = [f"lmk_{i:03d}" for i in range(n)]
    return (
        torch.from_numpy(idx.astype(np.int64)),
        torch.from_numpy(np.ascontiguousarray(bary, dtype=np.float32)),
        names,
    )


# --------------------------------------------------------------------------------------------
# public entry points


def load_flame_model(path: PathLike, landmark_path: PathLike | None = None, *, source: str | None = None) -> FlameModelData:
    """Load a FLAME-format model: converted ``.safetensors``, an official pickle (``.pkl``), or
    the same dict saved as ``.npz``.

    The kind is recognised from the file's content. Pickles are read without executing code and
    without chumpy; ``source`` (``FLAME2020``, ``FLAME2023``) overrides the guess from the file
    name. ``landmark_path`` adds (or replaces) the landmark embedding from a FLAME landmark file.
    Raises :class:`CheckpointError` for missing, corrupt, refused or inconsistent files.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"FLAME model file '{path}' does not exist")
    if _is_safetensors(path):
        data = _load_converted(path)  # validated there
        validated = True
        if source is not None:
            data.source = source
    else:
        data = flame_data_from_pickle_dict(_load_any_dict(path, "a FLAME model"), path, source)
        validated = False
    if landmark_path is not None:
        idx, bary, names = load_landmark_embedding(landmark_path, num_faces=data.num_faces)
        data.lmk_faces_idx, data.lmk_bary_coords, data.landmark_names = idx, bary.to(data.dtype), names
        validated = False
    if not validated:
        try:
            validate_model_data(data)
        except CheckpointError as exc:
            raise CheckpointError(f"'{path}': {exc}") from exc
    return data


def convert(pkl_path: PathLike, out_path: PathLike, landmark_path: PathLike | None = None, *, source: str | None = None) -> Path:
    """Convert an official FLAME pickle (+ optional landmark file) to the safetensors format.

    Run once; later loads of ``out_path`` never touch pickle. Returns ``out_path``.
    """
    pkl_path, out_path = Path(pkl_path), Path(out_path)
    if pkl_path.resolve() == out_path.resolve():
        raise CheckpointError(f"convert: the output path '{out_path}' is the input file")
    data = load_flame_model(pkl_path, landmark_path, source=source)
    return save_flame_model(data, out_path)
