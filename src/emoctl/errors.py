"""Exception types raised by emoctl.

Every error a user can trigger with bad input derives from :class:`EmoctlError`, and also from
the built-in exception a Python programmer would expect (``ValueError`` for bad values,
``KeyError`` for unknown names, ``TypeError`` for the wrong kind of argument, ...), so
``except ValueError`` keeps working. No public entry point lets a bare ``ValueError``,
``TypeError``, ``RuntimeError`` or ``OSError`` from numpy, torch or the OS escape for malformed
input: each layer turns them into one of these, naming the file, field or argument.

Which layer raises what, for bad input:

========================  =======================================================================
layer                     raises
========================  =======================================================================
emotions                  :class:`EmotionLabelError` (bad weights, intensity above
                          ``emoctl.emotions.MAX_INTENSITY``, complex/bool values);
                          :class:`UnknownEmotionError` (unknown names, out-of-range or
                          non-integer ids); :class:`ShapeError` (label tensor shapes, batch or
                          frame mismatches); :class:`ConfigError` (embedding sizes)
flame_schema, geometry    :class:`ShapeError` (missing/unknown keys, sizes, non-floating
                          tensors); :class:`NonFiniteError` (NaN/inf inputs, and a modulator's
                          own output, naming the likely cause); :class:`ConfigError` (sizes)
appearance                :class:`ShapeError`, :class:`NonFiniteError` (tokens or gates),
                          :class:`ConfigError` (mode), :class:`UnsupportedOperationError`
config, hub, modulators   :class:`CheckpointError` for anything read from or written to a
                          checkpoint (``save_pretrained``, ``load_pretrained``,
                          ``from_pretrained``, ``push_to_hub``, ``ModulatorConfig.from_dict``):
                          every malformed ``config.json`` field, a safetensors header that
                          does not fit the config, unknown tensors, wrong dtypes, failed saves
                          (saying the previous checkpoint is intact); :class:`ConfigError` for
                          a ``ModulatorConfig`` built in code and for ``parts``;
                          :class:`DeviceMismatchError`, :class:`UnsupportedOperationError`
adapters, controller      :class:`NoMatchingAdapterError` (no adapter fits the model's layout),
                          :class:`AlreadyWrappedError`, :class:`NotWrappedError`,
                          :class:`ArgumentTypeError` (``wrap()`` of a non-module,
                          ``flame_params`` not a dict, ``bind()`` of a non-callable),
                          :class:`ConfigError` (an appearance mode the adapter lacks; adapter
                          registration)
media, render             :class:`RenderArgumentError` (sizes, counts, planes, backends, file
                          types), :class:`ShapeError`/:class:`NonFiniteError` (tensors),
                          :class:`MissingDependencyError` (imageio, gsplat),
                          ``emoctl.render.BackendUnavailableError``; readers raise
                          :class:`DataError`
flame                     :class:`ShapeError`, :class:`NonFiniteError`; loading a model file
                          raises :class:`CheckpointError` (malformed files, and pickles the
                          restricted loader refuses, with nothing executed)
data                      :class:`DataError` from every entry point (manifest, dataset
                          constructor and items, ``merge``, ``emoctl data info/merge``), naming
                          the clip, file and field; ``verify`` reports the same messages
                          instead of raising; :class:`ArgumentTypeError` for a non-integer
                          dataset index
backbones                 :class:`ShapeError` (images, cameras, betas, avatar attributes),
                          :class:`ConfigError` (config fields, unknown arch),
                          :class:`CheckpointError` (``load``/``save``: config, header, hash,
                          missing shipped weights), :class:`ArgumentTypeError` (per-frame
                          appearance on a model without ``build_avatar``),
                          :class:`MissingDependencyError` (diffusers)
losses, metrics           :class:`ShapeError` (mismatched images, sequences, masks, judge
                          outputs), :class:`NonFiniteError` (judge outputs), :class:`ConfigError`
                          (loss weights), :class:`CheckpointError` / :class:`MissingDependencyError`
                          (LPIPS or face-mesh weights not on disk), :class:`UnknownEmotionError`
train, eval               :class:`ConfigError` (training config, a resume with another config),
                          :class:`DataError` (folders, data without reference cameras),
                          :class:`CheckpointError` (check sets, saved models); the CLI turns each
                          into one line and exit code 2
========================  =======================================================================
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
