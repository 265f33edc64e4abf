"""Which shard of a build this process is: ``"i/n"``, or ``"auto"`` from a cluster's environment.

A build is split into ``n`` disjoint shards (:func:`~emoctl.data.build_dataset`'s ``shard=(i, n)``),
each built by its own process, so a cluster builds one with an array job:

- Slurm job arrays (``sbatch --array=0-15``): ``SLURM_ARRAY_TASK_ID`` and
  ``SLURM_ARRAY_TASK_COUNT`` (an array that starts elsewhere or steps, ``--array=1-16`` or
  ``--array=0-30:2``, is mapped through ``SLURM_ARRAY_TASK_MIN`` and ``SLURM_ARRAY_TASK_STEP``);
- torchrun and other launchers that set ``RANK`` and ``WORLD_SIZE``.

Slurm's variables win when both are set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from emoctl.errors import DataError

#: ``--shard`` values that read the shard from the environment.
AUTO = "auto"

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def check_shard(index: int, count: int, where: str) -> tuple[int, int]:
    """``(index, count)`` when ``count >= 1`` and ``0 <= index < count``; otherwise a :class:`DataError`
    naming ``where`` the values came from."""
    if count < 1 or not 0 <= index < count:
        raise DataError(f"{where}: shard {index} of {count} is not a shard (need n >= 1 and 0 <= i < n)")
    return index, count


def shard_pair(shard: Any) -> tuple[int, int]:
    """``(i, n)`` from a tuple or list of two ints with ``n >= 1`` and ``0 <= i < n``; :class:`DataError` otherwise."""
    ok = (
        isinstance(shard, (tuple, list))
        and len(shard) == 2
        and all(isinstance(s, int) and not isinstance(s, bool) for s in shard)
    )
    if not ok or shard[1] < 1 or not 0 <= shard[0] < shard[1]:
        raise DataError(f"shard must be (i, n) with n >= 1 and 0 <= i < n, got {shard!r}")
    return int(shard[0]), int(shard[1])


def _env_int(environ: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value.strip())
    except ValueError:
        raise DataError(f"--shard auto: the environment variable {name}={value!r} is not an integer") from None


def shard_from_environment(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``(i, n)`` from a Slurm job array, else from ``RANK`` / ``WORLD_SIZE``; :class:`DataError` when
    neither is set (or the values are not a shard)."""
    env = os.environ if environ is None else environ
    task, tasks = _env_int(env, "SLURM_ARRAY_TASK_ID"), _env_int(env, "SLURM_ARRAY_TASK_COUNT")
    if task is not None and tasks is not None:
        first = _env_int(env, "SLURM_ARRAY_TASK_MIN", 0)
        step = _env_int(env, "SLURM_ARRAY_TASK_STEP", 1)
        assert first is not None and step is not None
        offset = task - first
        if step < 1 or offset % step:
            raise DataError(f"--shard auto: Slurm array task {task} is not on the array's grid "
                            f"(SLURM_ARRAY_TASK_MIN={first}, SLURM_ARRAY_TASK_STEP={step})")
        return check_shard(offset // step, tasks, "--shard auto (SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT)")
    rank, world = _env_int(env, "RANK"), _env_int(env, "WORLD_SIZE")
    if rank is not None and world is not None:
        return check_shard(rank, world, "--shard auto (RANK / WORLD_SIZE)")
    raise DataError(
        "--shard auto: found neither SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (a Slurm job array) nor "
        "RANK and WORLD_SIZE (torchrun) in the environment; pass the shard explicitly, e.g. --shard 0/4"
    )


def parse_shard(spec: str | tuple[int, int] | None, environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``(i, n)`` from ``"i/n"``, ``"auto"`` (see :func:`shard_from_environment`, reading ``environ``,
    default ``os.environ``), a tuple ``(i, n)``, or None (``(0, 1)``)."""
    if spec is None:
        return 0, 1
    if isinstance(spec, (tuple, list)):
        return shard_pair(spec)
    if not isinstance(spec, str):
        raise DataError(f"shard must be 'i/n', 'auto' or (i, n), got {type(spec).__name__}")
    if spec.strip().lower() == AUTO:
        return shard_from_environment(environ)
    match = _SPEC.match(spec)
    if match is None:
        raise DataError(f"--shard must be 'i/n' (e.g. 0/4: the first of 4 shards) or 'auto', got {spec!r}")
    return check_shard(int(match.group(1)), int(match.group(2)), f"--shard {spec}")
