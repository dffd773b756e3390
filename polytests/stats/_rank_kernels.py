"""The Brunner-Munzel statistic under relabelling, for :mod:`polytests.stats.relative`.

The pooled sample is sorted once into blocks of equal values with their pooled mid-ranks
(``Ties``); a relabelling only changes how many documents of each group sit in each block.
A document of group x in a block with pooled mid-rank R, after ``seen_x`` x-documents
below the block and ``c_x`` in it, has internal mid-rank ``seen_x + (c_x + 1) / 2`` and
placement ``(R - internal) / n_y``: the share of y below it, ties counted half. The
relative effect is the mean placement; its Brunner-Munzel standard error comes from the
placements' variances in each group.

Two versions with the same arithmetic in the same order (sums accumulate block by block,
left to right), so their statistics are bit-identical: a NumPy reference vectorised across
relabellings, and a numba loop used when :func:`~polytests.stats._kernels.jit_enabled`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from polytests.stats._kernels import jit_enabled

__all__ = ["Ties", "bm_parts", "bm_statistics", "relabelled_bm_t", "studentized", "ties_of", "variance_floor"]

# A standard error or a distance from 1/2 below this is rounding: treated as exactly 0.
_ZERO = 1e-12


def variance_floor(n: int) -> float:
    """The smallest placement variance a group of ``n`` documents is credited with: that of the group
    with ONE of its documents half a unit away from the rest, ``(1/n)(1 - 1/n)/4``. A dozen documents
    that all sit in one place relative to the other group (all zero, say) would otherwise have a
    variance of 0 and make any difference look certain (an audit found such samples liberal;
    docs/statistics.md, "Guards from an audit"). Placements of groups that overlap
    the other vary far more (about 1/12), so the floor only bites in such degenerate samples."""
    return (n - 1) / (4.0 * n * n)


@dataclass(frozen=True)
class Ties:
    """The pooled sample sorted into blocks of equal values, with each block's mid-rank."""

    order: np.ndarray  # pooled index of each sorted position
    start: np.ndarray  # first sorted position of each block
    end: np.ndarray  # last sorted position of each block
    midrank: np.ndarray  # pooled mid-rank of each block (1-based)


def ties_of(z: np.ndarray) -> Ties:
    order = np.argsort(z, kind="stable")
    sorted_z = z[order]
    new_block = np.empty(len(z), dtype=bool)
    new_block[0] = True
    new_block[1:] = sorted_z[1:] != sorted_z[:-1]
    start = np.flatnonzero(new_block)
    end = np.append(start[1:] - 1, len(z) - 1)
    return Ties(order, start, end, (start + end + 2) / 2.0)


def bm_parts(in_x: np.ndarray, ties: Ties, n_x: int, n_y: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """theta and each group's placement variance (floored: :func:`variance_floor`) of each row of
    ``in_x`` (size, n): True marks x."""
    member = in_x[:, ties.order].astype(np.int64)
    cum = np.cumsum(member, axis=1)
    below = np.where(ties.start > 0, cum[:, np.maximum(ties.start - 1, 0)], 0)
    c_x = cum[:, ties.end] - below
    c_y = (ties.end - ties.start + 1)[None, :] - c_x
    seen_y = ties.start[None, :] - below
    p = (ties.midrank[None, :] - below - (c_x + 1) / 2.0) / n_y
    q = (ties.midrank[None, :] - seen_y - (c_y + 1) / 2.0) / n_x
    cp, cq = c_x * p, c_y * q
    # cumsum: sequential sums, in the order the compiled loop adds them
    s_x, ss_x = np.cumsum(cp, axis=1)[:, -1], np.cumsum(cp * p, axis=1)[:, -1]
    s_y, ss_y = np.cumsum(cq, axis=1)[:, -1], np.cumsum(cq * q, axis=1)[:, -1]
    theta = s_x / n_x
    var_x = np.maximum(np.maximum(ss_x - s_x * s_x / n_x, 0.0) / (n_x - 1), variance_floor(n_x))
    var_y = np.maximum(np.maximum(ss_y - s_y * s_y / n_y, 0.0) / (n_y - 1), variance_floor(n_y))
    return theta, var_x, var_y


def studentized(theta: np.ndarray, var_x: np.ndarray, var_y: np.ndarray, n_x: int, n_y: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """The Brunner-Munzel standard error of theta and ``(theta - 1/2) / se`` (the floors keep se > 0)."""
    se = np.sqrt(var_x / n_x + var_y / n_y)
    d = theta - 0.5
    d = np.where(np.abs(d) < _ZERO, 0.0, d)
    return se, d / se


def bm_statistics(in_x: np.ndarray, ties: Ties, n_x: int, n_y: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """theta, se and studentized ``(theta - 1/2) / se`` of each row of ``in_x`` (size, n): True marks x."""
    theta, var_x, var_y = bm_parts(in_x, ties, n_x, n_y)
    return (theta, *studentized(theta, var_x, var_y, n_x, n_y))


@cache
def _compiled():
    """The numba loop, compiled on first use (or loaded from numba's on-disk cache)."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def _relabelled_bm_t_jit(members, draw_x, n, order, start, end, midrank, n_x, n_y, floor_x,
                             floor_y):  # pragma: no cover
        size, m = members.shape
        n_blocks = start.shape[0]
        out = np.empty(size)
        mark = np.zeros(n, dtype=np.bool_)
        for r in range(size):
            for i in range(n):
                mark[i] = not draw_x
            for i in range(m):
                mark[members[r, i]] = draw_x
            s_x = 0.0
            ss_x = 0.0
            s_y = 0.0
            ss_y = 0.0
            below = 0
            for b in range(n_blocks):
                c = 0
                for pos in range(start[b], end[b] + 1):
                    if mark[order[pos]]:
                        c += 1
                c_y = end[b] - start[b] + 1 - c
                seen_y = start[b] - below
                p = (midrank[b] - below - (c + 1) / 2.0) / n_y
                q = (midrank[b] - seen_y - (c_y + 1) / 2.0) / n_x
                cp = c * p
                cq = c_y * q
                s_x += cp
                ss_x += cp * p
                s_y += cq
                ss_y += cq * q
                below += c
            theta = s_x / n_x
            var_x = max(max(ss_x - s_x * s_x / n_x, 0.0) / (n_x - 1), floor_x)
            var_y = max(max(ss_y - s_y * s_y / n_y, 0.0) / (n_y - 1), floor_y)
            se = np.sqrt(var_x / n_x + var_y / n_y)  # > 0: the floors
            d = theta - 0.5
            if abs(d) < 1e-12:
                d = 0.0
            out[r] = d / se
        return out

    return _relabelled_bm_t_jit


def relabelled_bm_t(members: np.ndarray, draw_x: bool, n: int, ties: Ties, n_x: int, n_y: int,
                    *, jit: bool | None = None) -> np.ndarray:
    """The studentized statistic of each relabelling: ``members`` (size, m) are the documents of
    the drawn group (x when ``draw_x``, else y)."""
    if jit_enabled() if jit is None else jit:
        return _compiled()(np.ascontiguousarray(members, dtype=np.int64), bool(draw_x), n, ties.order,
                           ties.start, ties.end, ties.midrank, n_x, n_y, variance_floor(n_x), variance_floor(n_y))
    chosen = np.zeros((members.shape[0], n), dtype=bool)
    np.put_along_axis(chosen, members.astype(np.intp), True, axis=1)
    return bm_statistics(chosen if draw_x else ~chosen, ties, n_x, n_y)[2]
