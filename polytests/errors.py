"""Exceptions raised by polytests.

Every error a user can cause names the file, the field and the fix, so that a
bad claim file or a corrupt cache never becomes a silent wrong number.
"""

from __future__ import annotations


class PolytestsError(Exception):
    """Base class of every error polytests raises on purpose."""


class ClaimError(PolytestsError):
    """A claim file or a Python claim is malformed.

    ``path`` and ``line`` locate the problem, ``field`` names the offending key,
    ``fix`` says what to do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.field = field
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.path:
            where = self.path + (f":{self.line}" if self.line else "") + ": "
        field = f"field '{self.field}': " if self.field else ""
        fix = f" Fix: {self.fix}" if self.fix else ""
        stop = "" if self.message.endswith((".", "?", "!")) else "."
        return f"{where}{field}{self.message}{stop}{fix}"


class CorpusError(PolytestsError):
    """The corpora folder, a corpus card or the manifest is inconsistent."""


class ModelLoadError(PolytestsError):
    """A model spec could not be turned into a ready TransformerBridge."""


class ModelWeightsAbsent(ModelLoadError):
    """A hub id or alias whose weights are not on this machine (polytests never downloads).

    A claim that names such a model is skipped with this message, not failed: it cannot be
    judged here, and it is no member of the family this run.
    """


class CacheError(PolytestsError):
    """A cache file is unreadable, truncated or does not match its key."""


class AblationUnsupportedError(PolytestsError):
    """An ablation predicate was asked of a model that has no language-model head."""


class ClaimCrashed(PolytestsError):
    """Judging a claim raised an exception polytests did not foresee.

    The claim fails with this (its message says which exception and where), the rest
    of the family is judged without it.
    """

    def __init__(self, claim_id: str, exc: BaseException, *, path: str | None = None, line: int | None = None) -> None:
        import traceback

        frames = traceback.extract_tb(exc.__traceback__)[-3:]
        self.claim_id = claim_id
        self.original = exc
        self.path = path
        self.line = line
        self.where = "; ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in frames)
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(
            f"{where}could not judge claim {claim_id!r}: {exc.__class__.__name__}: {exc}"
            + (f" (at {self.where})" if self.where else "")
            + ". The other claims were judged without it. Fix: check this claim's fields; if they are right, "
            "this is a polytests bug: please report it with this message")
