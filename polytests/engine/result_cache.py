"""On-disk cache of per-claim results, so a rerun recomputes only what changed.

A claim's raw result (its predicates' p-values, estimates and the numbers behind
them, before the family correction) depends on the claim itself, the model's
weights, the corpora, the run's statistical settings and the code that computes
it. The key is a digest of all of these:

- the claim's validated fields (not where it was written: moving a claim between
  files does not recompute it);
- the model's digest and the corpus manifest hash;
- seed, resamples, min_effect, min_effect_loss and the run's default alpha;
- the library versions reports record (polytests, torch, TransformerLens, numpy,
  scipy, Python) and a digest of polytests' own source files that compute results (not the reports,
  commands or plugin hooks: :data:`PRESENTATION`), so an edited statistic never reads an old number.

The family correction is never cached: it runs over every claim on every run, so a
changed claim changes the others' adjusted p-values as it should.

Entries are pickles behind a SHA-256 of their bytes, written atomically (temporary
file + rename). A damaged entry is reported in one line, removed and recomputed.
The lock of an entry lets pytest-xdist workers share the work: a worker claims an
entry by taking its lock without waiting, computes it and writes it; the others
take the entries nobody holds, then wait for the rest and read them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from polytests.engine.provenance import library_versions

RESULT_FORMAT = 1
_MAGIC = b"polytests-result/1\n"
_SOURCE_ROOT = Path(__file__).resolve().parent.parent  # the polytests package


# What only presents results, never computes them: editing these recomputes nothing.
# tests/test_result_cache.py checks that no digested module imports one of them.
PRESENTATION = ("cli.py", "plugin.py", "items.py", "session.py", "commands", "reports")


def digested_sources() -> list[Path]:
    """polytests' Python files that compute a claim's raw result (everything but PRESENTATION)."""
    return [path for path in sorted(_SOURCE_ROOT.rglob("*.py"))
            if path.relative_to(_SOURCE_ROOT).parts[0] not in PRESENTATION]


@lru_cache(maxsize=1)
def source_digest() -> str:
    """SHA-256 over the files that compute results (path and bytes), computed once per process.
    A change to a report, a command or the plugin's hooks keeps every cached result."""
    h = hashlib.sha256()
    for path in digested_sources():
        h.update(str(path.relative_to(_SOURCE_ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=1)
def code_versions() -> dict[str, str]:
    """The library versions every report records (TransformerLens included: it runs the model),
    plus the digest of polytests' own source."""
    return {**library_versions(), "polytests_source": source_digest()}


def result_key(claim, *, model_digest: str, corpus_hash: str, settings: dict[str, Any]) -> str:
    """The cache key of a claim's raw result (hex SHA-256)."""
    fields = {"claim": claim.model_dump(mode="json"), "model_digest": model_digest, "corpus_hash": corpus_hash,
              "settings": settings, "code": code_versions(), "format": RESULT_FORMAT}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


class ResultCache:
    """A folder of per-claim result entries (``<claim id>-<key>.pkl``)."""

    def __init__(self, root: str | Path, *, lock_timeout: float = 600.0) -> None:
        self.root = Path(root)
        self.lock_timeout = lock_timeout
        self.usable = True
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.usable = False
            warnings.warn(f"polytests: result cache folder {self.root} is unusable ({exc.strerror or exc}); "
                          "every claim is computed this run. Fix: make it writable or set --polytests-cache-dir",
                          stacklevel=2)

    def path_for(self, claim_id: str, key: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in claim_id)
        return self.root / f"{safe}-{key[:32]}.pkl"

    def load(self, path: Path) -> Any | None:
        """The entry at ``path``; None if absent, or damaged (then reported and removed)."""
        if not self.usable:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            warnings.warn(f"polytests: {path}: unreadable result cache entry ({exc}); recomputing", stacklevel=2)
            return None
        head, _, rest = data.partition(b"\n")
        body = rest[64:]
        try:
            ok = head + b"\n" == _MAGIC and rest[:64].decode() == hashlib.sha256(body).hexdigest()
            value = pickle.loads(body) if ok else None
        except Exception:  # noqa: BLE001 - any unpickling failure is damage
            ok, value = False, None
        if not ok:
            warnings.warn(f"polytests: {path}: damaged result cache entry (checksum mismatch); recomputing",
                          stacklevel=2)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return value

    def save(self, path: Path, value: Any) -> None:
        """Write ``value`` atomically; a cache that cannot be written costs only the reuse."""
        if not self.usable:
            return
        body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        data = _MAGIC + hashlib.sha256(body).hexdigest().encode() + body
        try:
            fd, tmp = tempfile.mkstemp(prefix=f"{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            warnings.warn(f"polytests: could not write {path} ({exc.strerror or exc}); the result stands, it "
                          "will be recomputed next run", stacklevel=2)
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)

    def lock(self, path: Path, *, wait: bool, timeout: float | None = None):
        """The entry's file lock, acquired (or None: held elsewhere and ``wait`` is False, or no cache)."""
        from filelock import FileLock

        from polytests.locks import acquire

        if not self.usable:
            return None
        lock = FileLock(str(path) + ".lock")
        timeout = self.lock_timeout if timeout is None else timeout
        try:
            if not acquire(lock, timeout if wait else 0, f"a claim's cached result ({path.name})"):
                if wait:
                    warnings.warn(f"polytests: {path.name}.lock held for {timeout:g}s; computing the claim here. "
                                  f"Fix: if no other polytests run is going, delete {path}.lock", stacklevel=2)
                return None
        except OSError:
            return None
        return lock
