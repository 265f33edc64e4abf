"""Fixtures of the backbone tests."""

import pytest

from .uv_tiny import TINY_UV


@pytest.fixture(scope="module")
def uv_model():
    from emoctl.backbones.uv_style import UVStyleBackbone, UVStyleConfig

    return UVStyleBackbone(UVStyleConfig(**TINY_UV))
