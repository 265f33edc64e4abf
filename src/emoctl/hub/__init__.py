"""Saving and loading modulators in the Hugging Face Hub layout.

The layout follows ``huggingface_hub.PyTorchModelHubMixin``: a folder (or Hub repo) with
``model.safetensors`` (the added modules' tensors only), ``config.json`` (everything needed to
rebuild them, plus the emoctl version and the SHA-256 of the weights) and a ``README.md`` model
card. Differences from the mixin, on purpose: loading is strict, saving is staged and locked,
nothing is ever unpickled, and every failure is a :class:`~emoctl.errors.CheckpointError`.

Guarantees:

Saving
    The files are written to a staging folder inside the target and flushed to disk, then moved
    over the old ones with ``os.replace`` (weights, config, card) while holding an exclusive lock
    on the folder (:mod:`emoctl._locks`; held for the renames only, not while writing). Saves
    into one folder from several threads or processes therefore replace the checkpoint as a
    whole: the last one to move its files in wins, never a mix of two. A failure (full disk,
    read-only folder, a ``config.json`` that is a folder, ...) raises ``CheckpointError`` naming
    the folder; files already moved are put back from hard links made before the renames, so the
    previous checkpoint is intact (where the file system has no hard links and a rename fails
    midway, the error says the folder may mix two saves instead). A kill while writing leaves the
    previous checkpoint; a kill between the final renames leaves a weights/config pair that the
    SHA-256 flags on load. Weights with NaN or inf are refused, as loading would refuse them.
Loading
    A local folder is read under a shared lock on it, so a load that overlaps a save sees the
    old or the new checkpoint, never a mix. ``config.json`` is checked field by field (types,
    sizes within :data:`emoctl.config.SIZE_LIMITS`, at most 1 MiB), then the weights' SHA-256,
    then the safetensors header (names, shapes, dtypes) against the config — all before any
    module is built or any tensor is read. *Strict* means: every expected tensor is present with
    the expected shape; no tensor outside the modulators' parts; floating-point tensors are
    stored as F16, BF16, F32 or F64 (converted to the model's dtype, as ``load_state_dict`` does),
    other dtypes are refused; every value is finite; nothing changes unless everything checks
    out. With ``parts="geometry"`` the other parts' tensors are expected and skipped.
Offline
    ``HF_HUB_OFFLINE`` is read at call time (``huggingface_hub`` reads it only once, at import):
    when it is set, a repo id is resolved from the local cache only, and one that is not cached
    fails at once instead of retrying the network.
Platforms
    The folder lock is an advisory ``flock(2)``: it orders emoctl's own saves and loads, not other
    programs. Where it is unavailable (Windows, some network file systems) saves and loads are
    not serialised: concurrent saves into one folder can then leave a pair that loading refuses
    (SHA-256), so save from one thread and process at a time there.

Modules: :mod:`~emoctl.hub.save`, :mod:`~emoctl.hub.load` (checks and reading),
:mod:`~emoctl.hub.shapes` (the layout a config implies), :mod:`~emoctl.hub.remote` (Hub download
and push), :mod:`~emoctl.hub.card`, :mod:`~emoctl.hub.layout` (file names). ``huggingface_hub`` is
imported only when the Hub is actually used.
"""

from emoctl.hub.card import render_model_card
from emoctl.hub.layout import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME
from emoctl.hub.load import (
    OpenedCheckpoint,
    assign_state,
    build_from_checkpoint,
    layout_of,
    load_checkpoint_into,
    open_checkpoint,
    read_tensors,
)
from emoctl.hub.remote import push_checkpoint
from emoctl.hub.save import save_checkpoint

__all__ = [
    "CARD_NAME",
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "OpenedCheckpoint",
    "assign_state",
    "build_from_checkpoint",
    "layout_of",
    "load_checkpoint_into",
    "open_checkpoint",
    "push_checkpoint",
    "read_tensors",
    "render_model_card",
    "save_checkpoint",
]
