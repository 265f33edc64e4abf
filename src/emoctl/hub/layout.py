"""The names in a checkpoint folder, and what a Hub repo id looks like."""

from __future__ import annotations

import re

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
CARD_NAME = "README.md"
#: The files of a checkpoint, in the order a save moves them into place.
FILES = (WEIGHTS_NAME, CONFIG_NAME, CARD_NAME)
STAGING_PREFIX = ".emoctl-staging-"
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
