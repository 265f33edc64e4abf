"""The Hub side: resolving a repo id through ``huggingface_hub`` (offline-aware) and pushing.

``huggingface_hub`` is imported inside the functions, only when the Hub is actually used.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from emoctl.errors import CheckpointError
from emoctl.hub.layout import CONFIG_NAME, REPO_ID, WEIGHTS_NAME
from emoctl.hub.save import save_checkpoint


def _hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` as set now; ``huggingface_hub`` only reads it when first imported."""
    value = os.environ.get("HF_HUB_OFFLINE")
    if value is not None:
        return value.strip().upper() in {"1", "ON", "YES", "TRUE"}
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def download(repo_id, revision, cache_dir, local_files_only, token):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    from huggingface_hub.utils import HFValidationError

    _check_types(revision=(revision, str), cache_dir=(cache_dir, (str, os.PathLike)),
                 local_files_only=(local_files_only, bool), token=(token, (str, bool)))
    if local_files_only is None:
        local_files_only = _hub_offline()
    source = f"{repo_id}@{revision}" if revision else repo_id
    kwargs = dict(repo_id=repo_id, revision=revision, cache_dir=cache_dir, token=token, library_name="emoctl",
                  local_files_only=local_files_only)
    try:
        config_path = hf_hub_download(filename=CONFIG_NAME, **kwargs)
        weights_path = hf_hub_download(filename=WEIGHTS_NAME, **kwargs)
    except LocalEntryNotFoundError:
        raise CheckpointError(
            f"{source} is not in the local Hugging Face cache and the Hub cannot be reached "
            "(offline mode or no network); download it once online, or pin a cached commit with revision="
        ) from None
    except RepositoryNotFoundError:
        raise CheckpointError(f"Hub repository {repo_id!r} does not exist or is private (pass token=)") from None
    except RevisionNotFoundError:
        raise CheckpointError(f"Hub repository {repo_id!r} has no revision {revision!r}") from None
    except EntryNotFoundError as e:
        raise CheckpointError(f"{source} is not an emoctl checkpoint: {e}") from None
    except HFValidationError as e:
        raise CheckpointError(f"{source!r} is not a valid Hub repo id or revision: {e}") from None
    except OSError as e:
        raise CheckpointError(f"could not fetch {source} from the Hub: {e}") from None
    return Path(config_path), Path(weights_path), source


# ---------------------------------------------------------------------------------- pushing
def push_checkpoint(modulators, repo_id: str, *, private=None, token=None, revision=None,
                    commit_message="Upload emoctl modulators", create_pr=False):
    """Save into a temporary folder and upload it to the Hub in one commit; returns the commit info."""
    if not isinstance(repo_id, str) or not REPO_ID.match(repo_id):
        raise CheckpointError(f"repo_id must look like 'org/name', got {repo_id!r:.80}")
    _check_types(private=(private, bool), token=(token, (str, bool)), revision=(revision, str),
                 commit_message=(commit_message, str, False), create_pr=(create_pr, bool, False))
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="emoctl-push-") as tmp:
        save_checkpoint(modulators, tmp)
        api.create_repo(repo_id=repo_id, private=private, exist_ok=True, repo_type="model")
        return api.upload_folder(
            repo_id=repo_id, folder_path=tmp, commit_message=commit_message, revision=revision,
            create_pr=create_pr, repo_type="model",
        )


def _check_types(**arguments) -> None:
    """``name=(value, types[, may_be_none=True])``: a :class:`CheckpointError` naming the first
    argument of the wrong type (before ``huggingface_hub`` sees it)."""
    for name, (value, types, *optional) in arguments.items():
        if value is None and (optional or [True])[0]:
            continue
        if not isinstance(value, types):
            wanted = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
            raise CheckpointError(f"{name} must be {wanted}, got {type(value).__name__}")

