"""Per-document sufficient statistics of neuron activations (tier 1).

For every neuron of a layer and every document: token count, sum, sum of
squares, max, and counts above firing thresholds. Document-level tests and
whole-model hunts need nothing more, so per-token data for all neurons is
never kept. Accumulators are float64 so that sums over long documents stay
exact to float32 input precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from polytests._lazy import lazy

torch = lazy("torch")


@dataclass
class DocStats:
    """Tier-1 arrays of one layer: ``count`` [docs], others [docs, neurons]."""

    count: np.ndarray
    sum: np.ndarray
    sumsq: np.ndarray
    max: np.ndarray
    above: np.ndarray  # [thresholds, docs, neurons]
    thresholds: tuple[float, ...]

    @property
    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sum / self.count[:, None]

    @property
    def firing_rate(self) -> np.ndarray:
        """Share of all tokens above each threshold, per neuron: [thresholds, neurons]."""
        total = max(int(self.count.sum()), 1)
        return self.above.sum(axis=1) / total


class DocStatsAccumulator:
    """Accumulates :class:`DocStats` batch by batch (torch, on the model's device)."""

    def __init__(self, n_docs: int, n_neurons: int, thresholds: tuple[float, ...], device) -> None:
        f64 = dict(dtype=torch.float64, device=device)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.count = torch.zeros(n_docs, dtype=torch.int64, device=device)
        self.sum = torch.zeros(n_docs, n_neurons, **f64)
        self.sumsq = torch.zeros(n_docs, n_neurons, **f64)
        self.max = torch.full((n_docs, n_neurons), -torch.inf, **f64)
        self.above = torch.zeros(len(self.thresholds), n_docs, n_neurons, dtype=torch.int64, device=device)

    def add(self, acts: torch.Tensor, doc: torch.Tensor, chunk: int = 2048) -> None:
        """Add ``acts`` [tokens, neurons] of tokens belonging to documents ``doc`` [tokens].

        Tokens are taken ``chunk`` at a time so that the float64 temporaries stay small
        whatever the batch size.
        """
        for start in range(0, acts.shape[0], chunk):
            self._add(acts[start : start + chunk], doc[start : start + chunk])

    def _add(self, acts: torch.Tensor, doc: torch.Tensor) -> None:
        if acts.shape[0] == 0:
            return
        # A batch holds whole windows, so a document's tokens come in runs: reduce each run
        # (torch.segment_reduce: one pass, a fixed order whatever the thread count), then add
        # the few per-run rows by document. index_add_ over every token row was 10x slower.
        run_doc, lengths = torch.unique_consecutive(doc, return_counts=True)
        a = acts.to(torch.float64)

        def per_run(values: torch.Tensor, reduce: str = "sum") -> torch.Tensor:
            return torch.segment_reduce(values, reduce, lengths=lengths, axis=0)

        self.count.index_add_(0, run_doc, lengths.to(self.count.dtype))
        self.sum.index_add_(0, run_doc, per_run(a))
        self.sumsq.index_add_(0, run_doc, per_run(a * a))
        run_max = per_run(a, "max")
        self.max.scatter_reduce_(0, run_doc[:, None].expand_as(run_max), run_max, reduce="amax", include_self=True)
        for i, t in enumerate(self.thresholds):
            self.above[i].index_add_(0, run_doc, per_run((acts > t).to(torch.float64)).to(torch.int64))

    def result(self) -> DocStats:
        return DocStats(
            self.count.cpu().numpy(),
            self.sum.cpu().numpy(),
            self.sumsq.cpu().numpy(),
            self.max.cpu().numpy(),
            self.above.cpu().numpy(),
            self.thresholds,
        )


def doc_stats_direct(acts: np.ndarray, doc: np.ndarray, n_docs: int, thresholds, keep=None) -> DocStats:
    """Reference implementation on a full per-token array (for tests and small data)."""
    acts = np.asarray(acts, dtype=np.float64)
    if keep is not None:
        acts, doc = acts[keep], doc[keep]
    n = acts.shape[1]
    out = DocStats(
        np.zeros(n_docs, dtype=np.int64), np.zeros((n_docs, n)), np.zeros((n_docs, n)),
        np.full((n_docs, n), -np.inf), np.zeros((len(thresholds), n_docs, n), dtype=np.int64),
        tuple(float(t) for t in thresholds),
    )
    for d in range(n_docs):
        rows = acts[doc == d]
        out.count[d] = len(rows)
        if len(rows):
            out.sum[d] = rows.sum(0)
            out.sumsq[d] = (rows * rows).sum(0)
            out.max[d] = rows.max(0)
            for i, t in enumerate(thresholds):
                out.above[i, d] = (rows > t).sum(0)
    return out


class TopK:
    """Running top-k activating tokens per neuron (Neuroscope's max-activating contexts)."""

    def __init__(self, k: int, n_neurons: int, device) -> None:
        self.k = k
        self.values = torch.full((0, n_neurons), -torch.inf, device=device)
        self.index = torch.zeros((0, n_neurons), dtype=torch.int64, device=device)

    def add(self, acts: torch.Tensor, flat_index: torch.Tensor) -> None:
        if acts.shape[0] == 0:
            return
        # The batch's own top k first, so only [2k, neurons] candidates are ever merged.
        batch_top, where = torch.topk(acts.float(), min(self.k, acts.shape[0]), dim=0)
        values = torch.cat([self.values, batch_top], 0)
        index = torch.cat([self.index, flat_index[where]], 0)
        top, keep = torch.topk(values, min(self.k, values.shape[0]), dim=0)
        self.values, self.index = top, index.gather(0, keep)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        return self.values.cpu().numpy(), self.index.cpu().numpy()
