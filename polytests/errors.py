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


class CacheError(PolytestsError):
    """A cache file is unreadable, truncated or does not match its key."""


class AblationUnsupportedError(PolytestsError):
    """An ablation predicate was asked of a model that has no language-model head."""
