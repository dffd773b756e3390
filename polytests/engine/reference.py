"""The reference text: where a neuron's scale, firing rate and ablation baselines come from.

A claim's bound is ``min_effect x scale``; its ablation null neurons are matched on firing rate;
mean ablation replaces a neuron by its mean; resample ablation by another document's activations.
If those numbers were measured on the run's corpora, a claim's bound and null neurons would move
when corpora it never names are added, removed or replaced (issue #23 measured a bound moving
6.5x that way). They are measured instead on a *reference*: a fixed sample of text, pinned by its
SHA-256, recorded in every claim's provenance.

Where the reference comes from (``[tool.polytests] reference``):

- ``"model"`` (the default): the file ``reference.jsonl`` beside the model's weights. The embedded
  model ships one: a sample of its reserved training text (never trained on, never in corpora/),
  drawn by :func:`sample_reference` from ``reserved.jsonl`` of ``polytests training-data``
  (``polytests reference build`` reproduces it byte for byte). A model from disk without one falls
  back to ``"corpora"``, and its claims say so.
- a path: a ``.jsonl`` file (one ``{"text": ...}`` object a line, ``id`` optional) or a folder of
  ``*.txt`` files.
- ``"corpora"``: every document of the judged split, as before #23: the numbers then depend on
  which corpora are present, and the provenance says ``reference_fixed: false``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polytests.corpora.documents import Document
from polytests.errors import PolytestsError

REFERENCE_FILE = "reference.jsonl"
PROFILES_FILE = "reference_profiles.safetensors"  # profiles shipped beside REFERENCE_FILE
PROFILE_FIELDS = ("scale", "rate", "magnitude", "mean")
SCALE_QUANTILE = 0.999
REFERENCE_CHARS = 360_000  # the embedded model's sample: about 130,000 tokens
REFERENCE_DOC_CHARS = 3_000  # each document cut at this many characters, so many documents take part
POST_SITE = "blocks.{layer}.mlp.hook_post"  # where ablations act


MAX_KEPT_VALUES = 200_000_000  # per-token values one profiling pass may hold (x 4 bytes)


def linear_quantile(values: np.ndarray, q: float) -> float:
    """numpy's default (linear) quantile of a 1-D array, by partition instead of a full sort."""
    n = values.size
    position = (n - 1) * q
    lo = int(np.floor(position))
    hi = min(lo + 1, n - 1)
    part = np.partition(values, [lo, hi])
    return float(part[lo] + (position - lo) * (part[hi] - part[lo]))


class ReferenceTextError(PolytestsError):
    """The reference text cannot be read."""


@dataclass(frozen=True)
class Reference:
    """A fixed sample of text (``fixed``) or the run's own split of the corpora (not fixed)."""

    source: str
    sha256: str
    documents: tuple[Document, ...]
    fixed: bool = True

    def describe(self) -> dict:
        return {"reference": self.source, "reference_sha256": self.sha256,
                "reference_documents": len(self.documents), "reference_fixed": self.fixed}


def _doc(name: str, text: str, path: Path) -> Document:
    return Document(corpus="reference", name=name, text=text, path=path, split="reference")


def read_reference(path: str | Path) -> Reference:
    """The reference at ``path``: a .jsonl file of {"text": ...} lines or a folder of *.txt files."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise ReferenceTextError(f"{path}: the reference folder has no *.txt files. Fix: add documents, one a "
                                 "file, or point [tool.polytests] reference at a .jsonl file")
        digest = hashlib.sha256()
        docs = []
        for f in files:
            data = f.read_bytes()
            digest.update(f.name.encode() + b"\0" + data + b"\0")
            try:
                docs.append(_doc(f.stem, data.decode("utf-8"), f))
            except UnicodeDecodeError as exc:
                raise ReferenceTextError(f"{f}: not UTF-8 ({exc.reason} at byte {exc.start}). Fix: save it as UTF-8") from None
        return Reference(str(path), digest.hexdigest(), tuple(docs))
    if not path.is_file():
        raise ReferenceTextError(f"reference {path} does not exist. Fix: point [tool.polytests] reference at a .jsonl file "
                             "or a folder of .txt files, or write reference = \"corpora\"")
    data = path.read_bytes()
    docs = []
    for number, line in enumerate(data.decode("utf-8", errors="strict").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReferenceTextError(f"{path}, line {number}: not JSON ({exc.msg}). Fix: one JSON object a line, "
                                 "{\"text\": \"...\"}") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"]:
            raise ReferenceTextError(f"{path}, line {number}: field 'text' is missing or empty. Fix: one JSON object a "
                                 "line with a non-empty string field text")
        docs.append(_doc(str(row.get("id", number)), row["text"], path))
    if not docs:
        raise ReferenceTextError(f"{path}: the reference holds no documents. Fix: add lines {{\"text\": \"...\"}}")
    return Reference(str(path), hashlib.sha256(data).hexdigest(), tuple(docs))


def corpora_reference(documents, corpus_hash: str) -> Reference:
    """The run's own documents as the reference (``reference = "corpora"``): not fixed."""
    return Reference("corpora", corpus_hash, tuple(documents), fixed=False)


def model_reference(model) -> Path | None:
    """The reference file shipped beside the model's weights, if any."""
    directory = model.extra.get("directory")
    if directory is None:
        return None
    candidate = Path(directory) / REFERENCE_FILE
    return candidate if candidate.is_file() else None


def resolve_reference(setting: str, model, root: str | Path, split_documents, corpus_hash) -> Reference:
    """The reference named by ``setting`` ("model", "corpora" or a path) for ``model``;
    ``split_documents`` and ``corpus_hash`` are called only when the reference is the corpora."""
    if setting == "corpora":
        return corpora_reference(split_documents(), corpus_hash())
    if setting == "model":
        shipped = model_reference(model)
        if shipped is None:
            return corpora_reference(split_documents(), corpus_hash())
        return read_reference(shipped)
    path = Path(setting)
    return read_reference(path if path.is_absolute() else Path(root) / path)


def reference_donors(doc_ids, n_reference: int, seed: int) -> np.ndarray:
    """Resample ablation's donor for each document: a reference document drawn from the seed and the
    document's own id (not its position), so other documents in the run do not change it."""
    out = np.empty(len(doc_ids), dtype=np.int64)
    for i, doc_id in enumerate(doc_ids):
        word = int.from_bytes(hashlib.sha256(f"{seed}/{doc_id}".encode()).digest()[:8], "big")
        out[i] = word % max(n_reference, 1)
    return out


# -- the sample the embedded model ships ------------------------------------------------------
def _order_key(doc_id: str) -> str:
    return hashlib.sha256(("reference:" + doc_id).encode("utf-8")).hexdigest()


def sample_reference(rows, mix: dict[str, float], chars: int = REFERENCE_CHARS,
                     doc_chars: int = REFERENCE_DOC_CHARS) -> list[dict]:
    """The reference sample of reserved training text: per kind, its share ``mix[kind]`` of
    ``chars`` characters, taken from the kind's documents in the order of SHA-256("reference:" + id),
    each cut to its first ``doc_chars`` characters (at a line end when there is one); the result is
    ordered by kind, then by that order. Deterministic: the same rows give the same sample."""
    by_kind: dict[str, list[dict]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(row)
    total = sum(mix.get(k, 0.0) for k in by_kind) or 1.0
    out = []
    for kind in sorted(by_kind):
        budget = chars * mix.get(kind, 0.0) / total
        taken = 0
        for row in sorted(by_kind[kind], key=lambda r: _order_key(r["id"])):
            if taken >= budget:
                break
            text = row["text"]
            if len(text) > doc_chars:
                cut = text.rfind("\n", 0, doc_chars)
                text = text[: cut if cut > doc_chars // 2 else doc_chars]
            if not text.strip():
                continue
            out.append({"id": row["id"], "kind": kind, "text": text})
            taken += len(text)
    return out


def write_reference(rows: list[dict], path: str | Path) -> str:
    """Write the sample as JSON lines; return its SHA-256."""
    data = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode("utf-8")
    Path(path).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


# -- per-neuron numbers on the reference ------------------------------------------------------
@dataclass(frozen=True)
class LayerProfile:
    """Per neuron of one layer at one site, on the reference: scale (99.9th percentile of
    |activation|), firing rate (share of tokens > 0), magnitude (|mean activation|) and the
    document-weighted mean activation (mean ablation's value)."""

    scale: np.ndarray
    rate: np.ndarray
    magnitude: np.ndarray
    mean: np.ndarray
    n_tokens: int


def _save(path: Path, prof: LayerProfile) -> None:
    """Write a profile atomically (a temporary file renamed), so a killed run leaves none half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, scale=prof.scale, rate=prof.rate, magnitude=prof.magnitude, mean=prof.mean,
                     n_tokens=np.int64(prof.n_tokens))
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def write_profiles(path: str | Path, model_digest: str, reference_sha256: str, profiles: dict) -> None:
    """Write ``{(layer, site): LayerProfile}`` as safetensors, keyed to the model and reference."""
    from safetensors.numpy import save_file

    tensors, tokens = {}, {}
    for (layer, site), prof in sorted(profiles.items()):
        for name in PROFILE_FIELDS:
            tensors[f"{site}|{layer}|{name}"] = np.ascontiguousarray(getattr(prof, name), dtype=np.float64)
        tokens[f"{site}|{layer}"] = prof.n_tokens
    save_file(tensors, str(path), metadata={"model_digest": model_digest, "reference_sha256": reference_sha256,
                                             "n_tokens": json.dumps(tokens), "format": "polytests-reference/1"})


def read_profiles(path: str | Path) -> tuple[tuple[str, str], dict] | None:
    """((model digest, reference sha256), {(layer, site): LayerProfile}) of a profiles file; None if unreadable."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            tokens = json.loads(meta.get("n_tokens", "{}"))
            arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iteration)
    except Exception:  # noqa: BLE001 (safetensors raises its own type): a corrupt file is ignored, computed again
        return None
    profiles = {}
    for key, n in tokens.items():
        site, layer = key.rsplit("|", 1)
        try:
            fields = [arrays[f"{key}|{name}"] for name in PROFILE_FIELDS]
        except KeyError:
            return None
        profiles[(int(layer), site)] = LayerProfile(*fields, int(n))
    return (meta.get("model_digest", ""), meta.get("reference_sha256", "")), profiles


class ReferenceProfiles:
    """Layer profiles of one model on one reference, computed once and cached on disk."""

    def __init__(self, model, reference: Reference, cache_dir: str | Path | None = None):
        self.model = model
        self.reference = reference
        self.cache_dir = Path(cache_dir) / "reference" if cache_dir is not None else None
        self._profiles: dict[tuple[int, str], LayerProfile] = {}
        self._tokens = None
        self._shipped_profiles: dict | None = None

    @property
    def tokens(self):
        if self._tokens is None:
            from polytests.engine.tokenization import tokenize_documents

            self._tokens = tokenize_documents(self.model.tokenizer, list(self.reference.documents))
        return self._tokens

    def _shipped(self) -> dict:
        """The profiles shipped beside the reference file (``reference_profiles.safetensors``), when
        they were computed for this model's weights and this reference's bytes."""
        if self._shipped_profiles is None:
            self._shipped_profiles = {}
            path = Path(self.reference.source).with_name(PROFILES_FILE)
            if self.reference.fixed and path.is_file():
                found = read_profiles(path)
                if found is not None and found[0] == (self.model.digest, self.reference.sha256):
                    self._shipped_profiles = found[1]
        return self._shipped_profiles

    def _path(self, layer: int, site: str) -> Path | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(json.dumps([self.model.digest, self.reference.sha256, site, layer,
                                         str(next(self.model.bridge.parameters()).dtype), 1]).encode()).hexdigest()
        return self.cache_dir / f"{key[:32]}.npz"

    def site_of(self, site: str | None) -> str:
        """The hook-name template of ``site`` (None: the model's default site)."""
        from polytests.engine.activations import CollectionRequest, resolve_site

        return resolve_site(self.model, CollectionRequest(layers=(0,), site=site))

    def profile(self, layer: int, site: str | None = None) -> LayerProfile:
        """The profile of ``layer`` at ``site`` (a hook-name template; None: the model's default site)."""
        site = self.site_of(site)
        key = (layer, site)
        if key in self._profiles:
            return self._profiles[key]
        shipped = self._shipped().get(key)
        if shipped is not None:
            self._profiles[key] = shipped
            return shipped
        path = self._path(layer, site)
        if path is not None and path.is_file():
            try:
                with np.load(path) as z:
                    prof = LayerProfile(z["scale"], z["rate"], z["magnitude"], z["mean"], int(z["n_tokens"]))
                self._profiles[key] = prof
                return prof
            except (OSError, ValueError, KeyError):
                pass  # unreadable: computed again and rewritten below
        prof = self._compute(layer, site)
        if path is not None:
            _save(path, prof)
        self._profiles[key] = prof
        return prof

    def _compute(self, layer: int, site: str) -> LayerProfile:
        from polytests.engine.activations import CollectionRequest, collect
        from polytests.neurons import NeuronRef

        d_mlp, tokens = self.model.d_mlp, self.tokens
        n = tokens.n_tokens
        out = {k: np.zeros(d_mlp) for k in ("scale", "rate", "magnitude", "mean")}
        lengths = np.diff(tokens.offsets).astype(np.float64)
        has = lengths > 0
        starts = tokens.offsets[:-1][has]
        chunk = max(1, min(d_mlp, MAX_KEPT_VALUES // max(n, 1)))  # bounds memory at chunk x tokens values
        for first in range(0, d_mlp, chunk):
            neurons = tuple(NeuronRef(layer, i) for i in range(first, min(first + chunk, d_mlp)))
            col = collect(self.model, tokens, CollectionRequest(layers=(layer,), neurons=neurons, site=site))
            for neuron in neurons:
                acts = np.asarray(col.token_acts.pop(neuron), dtype=np.float64)
                if acts.size == 0:
                    continue
                i = neuron.index
                out["scale"][i] = linear_quantile(np.abs(acts), SCALE_QUANTILE)
                out["rate"][i] = float(np.mean(acts > 0))
                out["magnitude"][i] = abs(float(acts.mean()))
                out["mean"][i] = float(np.mean(np.add.reduceat(acts, starts) / lengths[has]))
        return LayerProfile(out["scale"], out["rate"], out["magnitude"], out["mean"], n)

    def scale(self, neuron, site: str | None = None) -> float:
        return float(self.profile(neuron.layer, site).scale[neuron.index])

    def post_store(self, layer: int, neurons, cache=None):
        """Per-token hook_post activations of ``neurons`` on the reference (resample ablation's donors)."""
        from polytests.engine.activations import CollectionRequest
        from polytests.engine.store import build_store
        from polytests.neurons import NeuronRef

        request = CollectionRequest(layers=(layer,), neurons=tuple(NeuronRef(layer, n) for n in neurons),
                                    site=POST_SITE)
        return build_store(self.model, list(self.reference.documents), "reference", request, cache=cache)


def settings_profiles(settings, model, split: str = "explore"):
    """The reference profiles the settings give ``model`` (as claims use them); None when the
    reference is the corpora (then scales come from each store's own split)."""
    from polytests.corpora import build_manifest, load_corpora
    from polytests.engine.store import split_documents

    reference = resolve_reference(
        settings.reference, model, settings.root, lambda: split_documents(settings, split),
        lambda: build_manifest(load_corpora(settings.path(settings.corpora)), with_sources=False).corpus_hash)
    if not reference.fixed:
        return None
    return ReferenceProfiles(model, reference, settings.path(settings.cache_dir))


__all__ = ["POST_SITE", "REFERENCE_FILE", "SCALE_QUANTILE", "LayerProfile", "Reference", "ReferenceTextError",
           "ReferenceProfiles", "corpora_reference", "model_reference", "read_profiles", "read_reference",
           "reference_donors", "resolve_reference", "sample_reference", "settings_profiles", "write_profiles",
           "write_reference"]
