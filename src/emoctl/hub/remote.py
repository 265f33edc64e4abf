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

    if revision is not None and not isinstance(revision, str):
        raise CheckpointError(f"revision must be a branch, tag or commit name, got {type(revision).__name__}")
    if local_files_only is not None and not isinstance(local_files_only, bool):
        raise CheckpointError(f"local_files_only must be True, False or None, got {local_files_only!r}")
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
    if not isinstance(commit_message, str):
        raise CheckpointError(f"commit_message must be a str, got {type(commit_message).__name__}")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="emoctl-push-") as tmp:
        save_checkpoint(modulators, tmp)
        api.create_repo(repo_id=repo_id, private=private, exist_ok=True, repo_type="model")
        return api.upload_folder(
            repo_id=repo_id, folder_path=tmp, commit_message=commit_message, revision=revision,
            create_pr=create_pr, repo_type="model",
        )
