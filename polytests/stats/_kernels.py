"""The resampling loops of the permutation engine.

Random words are 64-bit integers drawn from the caller's :class:`numpy.random.Generator`
(``integers(0, 2**64, dtype=uint64)``, the bit generator's raw output for PCG64).

* A random m-subset of ``range(n)`` is a partial Fisher-Yates shuffle: step i swaps position
  i with ``i + j_i``, ``j_i`` uniform on ``range(n - i)``. Consecutive steps are grouped so
  that the product S of their ranges stays within ``2**32``, and one word w serves a whole
  group: ``floor(w * S / 2**64)`` written in the mixed radix of the ranges gives the group's
  j's (computed exactly in integers, range by range: ``j = hi64(w * s)``, ``w = lo64(w * s)``).
  Each of the S outcomes of a group is hit by ``floor(2**64 / S)`` or ``ceil(2**64 / S)``
  words, so its probability is within a factor ``1 +- 2**-32`` (``2.3e-10``) of uniform; over
  a whole subset the distance from uniform is below ``groups * 2**-33``, and so is any
  p-value's bias (a 40-of-440 subset: 14 words, bias below ``2e-9``, against a Monte Carlo
  error near ``1e-3`` at 9,999 resamples). Drawing a word per step instead would cost 3x the
  random numbers, which dominate the loop.
* A sign vector of length n takes ``ceil(n / 64)`` words, bit ``i % 64`` of word ``i // 64``
  being document i's flip (1: sign -1). Its signed sums are read from tables: for each byte
  of documents, the signed sum of those 8 documents under each of the 256 patterns.

The subset loop exists twice: a NumPy version (the reference, vectorised across resamples)
and a numba version (one resample at a time, no temporaries), used when numba imports and
``POLYTESTS_JIT`` is not ``0`` (compiled code is cached on disk by numba). Both take the same
words and add the same numbers in the same order, so their sums are bit-identical; the tests
hold them to that (``tests/test_permutation_kernels.py``).
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import os
from functools import cache

import numpy as np

# Looked up, not imported: numba takes about 0.4 s to import, which a run that computes no
# test (every result cached) should not pay. Without numba the NumPy loops run (same numbers).
_numba_spec = importlib.util.find_spec("numba")

__all__ = ["all_subset_sums", "byte_tables", "jit_enabled", "random_words", "signed_sums", "subset_sums", "sums_over",
           "words_per_subset"]

_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


def jit_enabled() -> bool:
    """Whether the compiled loops are used (numba installed and ``POLYTESTS_JIT`` not ``0``)."""
    return _numba_spec is not None and os.environ.get("POLYTESTS_JIT", "1") != "0"


def _use_jit(jit: bool | None) -> bool:
    """``jit`` when given (the tests compare both versions), else :func:`jit_enabled`."""
    return jit_enabled() if jit is None else jit


def random_words(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform 64-bit words, C-ordered: a chunk's words never depend on how it was chunked."""
    return rng.integers(0, 2**64, size=shape, dtype=np.uint64)


_GROUP_RANGE = 2**32  # the largest product of ranges one word serves


def _scaled(words: np.ndarray, bound: np.uint64) -> np.ndarray:
    """``floor(words * bound / 2**64)`` exactly, for ``bound < 2**31`` (NumPy, elementwise)."""
    return ((words >> _SHIFT32) * bound + (((words & _LOW32) * bound) >> _SHIFT32)) >> _SHIFT32


def subset_word_plan(n: int, m: int) -> np.ndarray:
    """For each of the m steps of an m-subset of ``range(n)``, the index of the word it reads:
    steps are grouped while the product of their ranges ``n - i`` stays within ``_GROUP_RANGE``."""
    plan = np.empty(m, dtype=np.int64)
    word, product = -1, _GROUP_RANGE + 1
    for i in range(m):
        s = n - i
        if product * s > _GROUP_RANGE:
            word, product = word + 1, 1
        product *= s
        plan[i] = word
    return plan


def words_per_subset(n: int, m: int) -> int:
    """How many random words one resample's m-subset of ``range(n)`` takes."""
    return int(subset_word_plan(n, m)[-1]) + 1 if m else 0


# ---------------------------------------------------------------------------------------
# NumPy reference versions
# ---------------------------------------------------------------------------------------


def subset_indices_numpy(words: np.ndarray, n: int, m: int) -> np.ndarray:
    """The m-subsets that ``words`` (size, words_per_subset(n, m)) select from ``range(n)``:
    (m, size), in member order."""
    size = words.shape[0]
    plan = subset_word_plan(n, m)
    state = words.copy()
    dtype = np.int16 if n < 2**15 else np.int32 if n < 2**31 else np.int64
    perm = np.empty((n, size), dtype=dtype)
    perm[:] = np.arange(n, dtype=dtype)[:, None]
    flat = perm.reshape(-1)
    columns = np.arange(size, dtype=np.intp)
    for i in range(m):
        bound, w = np.uint64(n - i), state[:, plan[i]]
        j = i + _scaled(w, bound).astype(np.intp)
        w *= bound  # the low 64 bits: what is left of the word for the group's next steps
        where = j * size + columns
        held = perm[i].copy()
        perm[i] = flat.take(where)
        flat.put(where, held)
    return perm[:m]


def sums_over(data: np.ndarray, squares: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``data`` (k, n), the sums of values and of squares over the subsets ``idx``
    (m, size), added member by member in the order of ``idx``'s rows, as the compiled loops
    add them (the NumPy reference for every subset sum, the observed one included)."""
    s1 = np.empty((data.shape[0], idx.shape[1]))
    s2 = np.empty_like(s1)
    for c in range(data.shape[0]):  # column by column: a column's numbers never depend on k
        values, sq = data[c].take(idx), squares[c].take(idx)
        s1[c], s2[c] = values[0], sq[0]
        for r in range(1, idx.shape[0]):
            s1[c] += values[r]
            s2[c] += sq[r]
    return s1, s2


def sign_bits_numpy(words: np.ndarray, n: int) -> np.ndarray:
    """Document i's flip bit in each resample: (n, size) of 0/1 (uint64). For tests and reading."""
    i = np.arange(n)
    return (words[:, i // 64].T >> (i % 64).astype(np.uint64)[:, None]) & np.uint64(1)


def byte_tables(data: np.ndarray) -> np.ndarray:
    """(k, ceil(n / 8), 256): for each column, byte of documents and pattern of 8 flip bits, the
    signed sum of those documents, added in document order (built by doubling: the patterns
    whose top bit b is clear, then set, each the level below plus, then minus, document b)."""
    k, n = data.shape
    groups = -(-n // 8)
    padded = np.zeros((k, groups, 8))
    padded.reshape(k, -1)[:, :n] = data
    tables = padded[..., :1]
    tables = np.concatenate([tables, -tables], axis=-1)
    for b in range(1, 8):
        doc = padded[..., b, None]
        tables = np.concatenate([tables + doc, tables - doc], axis=-1)
    return tables


def signed_sums(data: np.ndarray, words: np.ndarray, tables: np.ndarray | None = None,
                *, jit: bool | None = None) -> np.ndarray:
    """Per column of ``data`` (k, n), the sum of values under each resample's signs
    (``words``: (size, ceil(n / 64))): a (k, size) array, added byte of documents by byte.
    ``tables``: :func:`byte_tables` of ``data``, if the caller keeps them between chunks."""
    tables = byte_tables(data) if tables is None else tables
    byte_rows = np.ascontiguousarray(words, dtype="<u8").view(np.uint8).reshape(words.shape[0], -1)
    if _use_jit(jit):
        return _compiled()[1](np.ascontiguousarray(tables), byte_rows)
    out = np.zeros((data.shape[0], words.shape[0]))
    for g in range(tables.shape[1]):
        out += tables[:, g, :].take(byte_rows[:, g], axis=1)
    return out


# ---------------------------------------------------------------------------------------
# numba versions (same arithmetic, same order)
# ---------------------------------------------------------------------------------------

@cache
def _compiled():
    """The numba versions, compiled on first use (or loaded from numba's on-disk cache)."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def _subset_sums_jit(data, squares, words, perm0, plan, fresh):  # pragma: no cover - compiled
        # perm0: range(n) (int32 where n allows: faster swaps); fresh[i]: step i reads a new word.
        # Two resamples at a time, each with its own permutation: their chains of multiplies and
        # additions are independent, so the CPU overlaps them (faster than one at a time in a
        # microbenchmark). Swaps first, sums after (summing inside the swap loop was slower).
        k, n = data.shape
        size, m = words.shape[0], plan.shape[0]
        s1 = np.empty((k, size))
        s2 = np.empty((k, size))
        perm1 = perm0.copy()
        swapped0 = np.empty(m, dtype=perm0.dtype)
        swapped1 = np.empty(m, dtype=perm0.dtype)
        low = np.uint64(0xFFFFFFFF)
        shift = np.uint64(32)
        for r in range(0, size, 2):
            two = r + 1 < size  # the second of the pair exists (else it runs on a zero word, unused)
            w0 = np.uint64(0)
            w1 = np.uint64(0)
            for i in range(m):
                if fresh[i]:
                    w0 = words[r, plan[i]]
                    if two:
                        w1 = words[r + 1, plan[i]]
                bound = np.uint64(n - i)
                j0 = i + np.int64((((w0 >> shift) * bound) + (((w0 & low) * bound) >> shift)) >> shift)
                j1 = i + np.int64((((w1 >> shift) * bound) + (((w1 & low) * bound) >> shift)) >> shift)
                w0 = w0 * bound
                w1 = w1 * bound
                swapped0[i] = j0
                swapped1[i] = j1
                held = perm0[j0]
                perm0[j0] = perm0[i]
                perm0[i] = held
                held = perm1[j1]
                perm1[j1] = perm1[i]
                perm1[i] = held
            for c in range(k):
                a0 = data[c, perm0[0]]
                b0 = squares[c, perm0[0]]
                a1 = data[c, perm1[0]]
                b1 = squares[c, perm1[0]]
                for i in range(1, m):
                    a0 += data[c, perm0[i]]
                    b0 += squares[c, perm0[i]]
                    a1 += data[c, perm1[i]]
                    b1 += squares[c, perm1[i]]
                s1[c, r] = a0
                s2[c, r] = b0
                if two:
                    s1[c, r + 1] = a1
                    s2[c, r + 1] = b1
            for i in range(m - 1, -1, -1):  # undo the swaps: the next pair starts from range(n)
                j = swapped0[i]
                held = perm0[j]
                perm0[j] = perm0[i]
                perm0[i] = held
                j = swapped1[i]
                held = perm1[j]
                perm1[j] = perm1[i]
                perm1[i] = held
        return s1, s2

    @numba.njit(cache=True, nogil=True)
    def _signed_sums_jit(tables, byte_rows):  # pragma: no cover - compiled
        k, groups = tables.shape[0], tables.shape[1]
        size = byte_rows.shape[0]
        out = np.empty((k, size))
        for c in range(k):
            for r in range(size):
                acc = 0.0
                for g in range(groups):
                    acc += tables[c, g, byte_rows[r, g]]
                out[c, r] = acc
        return out

    @numba.njit(cache=True, nogil=True)
    def _all_subset_sums_jit(data, squares, n, m, total):  # pragma: no cover - compiled
        k = data.shape[0]
        s1 = np.empty((k, total))
        s2 = np.empty((k, total))
        members = np.arange(m)
        for r in range(total):
            for c in range(k):
                a = data[c, members[0]]
                b = squares[c, members[0]]
                for i in range(1, m):
                    a += data[c, members[i]]
                    b += squares[c, members[i]]
                s1[c, r] = a
                s2[c, r] = b
            # next combination in lexicographic order (that of itertools.combinations)
            i = m - 1
            while i >= 0 and members[i] == i + n - m:
                i -= 1
            if i < 0:
                break
            members[i] += 1
            for j in range(i + 1, m):
                members[j] = members[j - 1] + 1
        return s1, s2

    return _subset_sums_jit, _signed_sums_jit, _all_subset_sums_jit


# ---------------------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------------------


def subset_sums(data: np.ndarray, squares: np.ndarray, words: np.ndarray, n: int, m: int,
                *, jit: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``data`` (k, n), the sum of values and of squares over each resample's
    random m-subset (``words``: (size, words_per_subset(n, m)), one row per resample):
    two (k, size) arrays, added member by member."""
    if _use_jit(jit):
        plan = subset_word_plan(n, m)
        fresh = np.ones(m, dtype=np.bool_)
        fresh[1:] = plan[1:] != plan[:-1]
        perm = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
        return _compiled()[0](np.ascontiguousarray(data, dtype=np.float64),
                              np.ascontiguousarray(squares, dtype=np.float64),
                              np.ascontiguousarray(words), perm, plan, fresh)
    return sums_over(data, squares, subset_indices_numpy(words, n, m))


def all_subset_sums(data: np.ndarray, squares: np.ndarray, m: int, *, jit: bool | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The sums of :func:`subset_sums` over every m-subset of ``range(n)``, in the lexicographic
    order of :func:`itertools.combinations` (the first is ``range(m)``): two (k, C(n, m)) arrays."""
    n = data.shape[1]
    total = math.comb(n, m)
    if _use_jit(jit):
        return _compiled()[2](np.ascontiguousarray(data, dtype=np.float64),
                              np.ascontiguousarray(squares, dtype=np.float64), n, m, total)
    return sums_over(data, squares, np.array(list(itertools.combinations(range(n), m)), dtype=np.intp).reshape(total, m).T)
