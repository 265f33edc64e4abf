"""emoctl: explicit emotion control for feed-forward single-image 3D Gaussian head avatars."""

from emoctl._version import __version__

__all__ = ["__version__"]
