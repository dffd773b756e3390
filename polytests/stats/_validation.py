"""Input-validation helpers shared by the statistics layer.

Every helper raises :class:`ValueError` whose message names the offending
argument and states what is allowed, so that a bad call never turns into a
silently wrong number. None of these helpers uses ``assert``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np

__all__ = [
    "SeedLike",
    "check_choice",
    "check_finite_float",
    "check_int",
    "check_optional_int",
    "check_probability",
    "check_samples",
    "check_two_samples",
    "make_rng",
]

SeedLike = int | np.integer | np.random.Generator | None


def check_choice(value: object, name: str, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed`` (exact string match)."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"`{name}` must be one of {{{choices}}}; got {value!r}.")
    return value


def check_int(value: object, name: str, *, minimum: int) -> int:
    """Return ``value`` as ``int`` if it is an integer (not bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value!r}.")
    value = int(value)
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value}.")
    return value


def check_optional_int(value: object, name: str, *, minimum: int) -> int | None:
    """Like :func:`check_int` but ``None`` passes through."""
    if value is None:
        return None
    return check_int(value, name, minimum=minimum)


def check_finite_float(
    value: object, name: str, *, positive: bool = False
) -> float:
    """Return ``value`` as a finite ``float``; optionally require ``value > 0``."""
    what = "a finite number > 0" if positive else "a finite number"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be {what}; got {value!r}.")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0.0):
        raise ValueError(f"`{name}` must be {what}; got {value!r}.")
    return value


def check_probability(value: object, name: str) -> float:
    """Return ``value`` as ``float`` if it lies strictly inside (0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be a number in the open interval (0, 1); got {value!r}.")
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"`{name}` must be a number in the open interval (0, 1); got {value!r}.")
    return value


def make_rng(seed: object) -> np.random.Generator:
    """Turn ``seed`` (int >= 0, Generator or None) into a Generator.

    A Generator is used as is (its state advances); an int seeds a fresh
    PCG64 generator through :func:`numpy.random.default_rng`.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise ValueError(
            "`seed` must be None, a non-negative integer or a numpy.random.Generator; "
            f"got {seed!r}."
        )
    return np.random.default_rng(int(seed))


def check_samples(x: object, name: str, *, min_n: int, allow_2d: bool = True) -> np.ndarray:
    """Validate per-document values and return them as a float64 array.

    ``x`` must be real-valued, 1-D ``(n,)`` or (if ``allow_2d``) 2-D
    ``(n, k)``, have at least ``min_n`` rows (documents), at least one column,
    and contain only finite values.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"`{name}` must be an array of real numbers: {exc}") from exc
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(
            f"`{name}` must contain real numbers (integer or float dtype); got dtype {arr.dtype}."
        )
    dims = "1-D (n,) or 2-D (n, k)" if allow_2d else "1-D (n,)"
    if arr.ndim not in ((1, 2) if allow_2d else (1,)):
        raise ValueError(f"`{name}` must be {dims}; got shape {arr.shape}.")
    arr = arr.astype(np.float64, copy=False)
    if arr.shape[0] < min_n:
        raise ValueError(
            f"`{name}` must hold at least {min_n} documents (rows); got {arr.shape[0]}."
        )
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise ValueError(f"`{name}` must have at least one column; got shape {arr.shape}.")
    if np.isnan(arr).any():
        raise ValueError(f"`{name}` contains NaN; drop or impute those documents first.")
    if np.isinf(arr).any():
        raise ValueError(f"`{name}` contains inf; only finite values are allowed.")
    return arr


def check_two_samples(
    x: object, y: object, *, min_n: int, allow_2d: bool = True, names: tuple[str, str] = ("x", "y")
) -> tuple[np.ndarray, np.ndarray]:
    """Validate two samples and check that their column layouts agree."""
    a = check_samples(x, names[0], min_n=min_n, allow_2d=allow_2d)
    b = check_samples(y, names[1], min_n=min_n, allow_2d=allow_2d)
    if a.ndim != b.ndim:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must both be 1-D or both be 2-D; "
            f"got shapes {a.shape} and {b.shape}."
        )
    if a.ndim == 2 and a.shape[1] != b.shape[1]:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have the same number of columns; "
            f"got {a.shape[1]} and {b.shape[1]}."
        )
    return a, b
