"""Exception types raised by emoctl.

Every error a user can trigger with bad input derives from :class:`EmoctlError`, and also from
the built-in exception a Python programmer would expect (``ValueError`` for bad values,
``KeyError`` for unknown names, ...), so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class EmoctlError(Exception):
    """Base class of every emoctl error."""


class UnknownEmotionError(EmoctlError, KeyError):
    """An emotion name or id that is not in the controller's vocabulary."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class EmotionLabelError(EmoctlError, ValueError):
    """An emotion label that cannot be parsed (negative weights, wrong shape, NaN, ...)."""


class ShapeError(EmoctlError, ValueError):
    """A tensor whose shape does not match what the call needs."""


class NonFiniteError(EmoctlError, ValueError):
    """A tensor that contains NaN or infinite values where finite ones are required."""


class NoMatchingAdapterError(EmoctlError, TypeError):
    """No registered adapter recognises the layout of the model passed to :func:`emoctl.wrap`."""


class AlreadyWrappedError(EmoctlError, RuntimeError):
    """The model already carries an emoctl controller."""


class NotWrappedError(EmoctlError, RuntimeError):
    """:func:`emoctl.unwrap` was called on a model that carries no controller."""


class ConfigError(EmoctlError, ValueError):
    """A configuration value that is invalid: modulator sizes, an appearance mode, a parts name,
    an adapter registration."""


class ArgumentTypeError(EmoctlError, TypeError):
    """An argument of the wrong kind (``wrap()`` given something that is not an ``nn.Module``,
    ``flame_params`` that is not a dict, ``bind()`` given something that is not callable)."""


class DeviceMismatchError(EmoctlError, RuntimeError):
    """Tensors on another device than the modules they meet (move one with ``.to(...)``)."""


class UnsupportedOperationError(EmoctlError, RuntimeError):
    """An operation the object was not built for (appearance tokens from modulators without an
    appearance path, a gate in "concat" mode)."""


class CheckpointError(EmoctlError, ValueError):
    """A checkpoint that is missing, corrupt, or does not fit the model it is loaded into."""


class DataError(EmoctlError, ValueError):
    """A data set, manifest or data file that is missing, corrupt or inconsistent."""


class RenderArgumentError(EmoctlError, ValueError):
    """A non-tensor argument of a render call or a media writer (size, count, clipping plane,
    backend, file type, frame rate) is invalid."""


class MissingDependencyError(EmoctlError, ImportError):
    """An optional dependency (imageio for videos, gsplat for CUDA) is not installed."""
