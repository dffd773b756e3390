"""Turning files from packages into plain-text documents.

Each extractor takes a file's bytes and yields ``(suffix, text)`` pairs, one
per document it finds; long texts are then cut into pieces at line breaks by
``chunk``. The extractors are deliberately simple: the goal is text a person
wrote, in the form a reader would see it, not a faithful rendering.
"""

from __future__ import annotations

import gzip
import html
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from html.parser import HTMLParser

MAX_CHARS = 6000  # a training document; longer texts are cut at line breaks
MIN_CHARS = 200  # shorter pieces are dropped (headers, empty pages)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def plain(path: str, data: bytes) -> Iterator[tuple[str, str]]:
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    yield "", _decode(data)


class _TextOfHTML(HTMLParser):
    """Visible text of an HTML page: no scripts or styles, blocks on their own lines."""

    BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "tr", "dt", "dd",
              "table", "section", "title", "blockquote"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)

    def text(self) -> str:
        joined = "".join(self.parts)
        lines = [re.sub(r"[ \t]+", " ", line).strip() for line in joined.splitlines()]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_text(path: str, data: bytes) -> Iterator[tuple[str, str]]:
    parser = _TextOfHTML()
    parser.feed(_decode(data))
    parser.close()
    yield "", parser.text()


_ROFF_ESCAPES = [
    (re.compile(r"\\f[BIRPC1-4]|\\f\(..|\\f\[[^\]]*\]"), ""),
    (re.compile(r"\\\((em|en)"), "-"),
    (re.compile(r"\\\(aq"), "'"),
    (re.compile(r"\\\((lq|rq|Lq|Rq)"), '"'),
    (re.compile(r"\\\[[^\]]*\]"), ""),
    (re.compile(r"\\\(.."), ""),
    (re.compile(r"\\s[-+]?\d"), ""),
    (re.compile(r"\\[&|^%:]"), ""),
    (re.compile(r"\\-"), "-"),
    (re.compile(r"\\e"), "\\\\"),
    (re.compile(r"\\ "), " "),
    (re.compile(r'\\".*$', re.M), ""),
]


def roff(path: str, data: bytes) -> Iterator[tuple[str, str]]:
    """A man page's text: requests dropped, macro arguments kept, escapes removed."""
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    out = []
    for line in _decode(data).splitlines():
        if line.startswith((".\\\"", "'\\\"")):
            continue
        if line.startswith((".", "'")):
            parts = line[1:].split(None, 1)
            if not parts or parts[0] in ("TH", "so", "de", "ds", "nr", "if", "ie", "el", "ig", "ne",
                                         "in", "ti", "ta", "ft", "ps", "vs", "hy", "na", "ad", "ll"):
                continue
            line = parts[1] if len(parts) > 1 else ""
            line = line.replace('"', "")
            if parts[0] in ("SH", "SS"):
                line = "\n" + line
        for pattern, repl in _ROFF_ESCAPES:
            line = pattern.sub(repl, line)
        out.append(line)
    yield "", re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def fortune(path: str, data: bytes) -> Iterator[tuple[str, str]]:
    """A fortune file's entries (separated by ``%`` lines), grouped into pages."""
    if path.endswith((".dat", ".u8")):
        return
    entries = [e.strip("\n") for e in re.split(r"^%\s*$", _decode(data), flags=re.M)]
    entries = [e for e in entries if e.strip()]
    page: list[str] = []
    size = 0
    n = 0
    for entry in entries:
        page.append(entry)
        size += len(entry)
        if size >= MAX_CHARS // 2:
            yield f"p{n}", "\n\n".join(page)
            page, size, n = [], 0, n + 1
    if page:
        yield f"p{n}", "\n\n".join(page)


_OSIS_TAG = re.compile(r"<[^>]*>")
_CHAPTER = re.compile(r'<chapter [^>]*sID="([^"]+)"[^>]*/>')


def sword_osis(path: str, data: bytes, read_sibling: Callable[[str], bytes] | None = None
               ) -> Iterator[tuple[str, str]]:
    """A SWORD zText testament (``ot.bzz`` with its ``ot.bzs`` block index): one document a chapter.

    Each 12-byte ``.bzs`` record is (offset, compressed size, size) of a zlib
    block in ``.bzz``; the blocks hold OSIS XML, whose tags are dropped.
    """
    if read_sibling is None:
        raise ValueError("sword_osis needs the .bzs index beside the .bzz file")
    index = read_sibling(path[:-1] + "s")
    blocks = []
    for i in range(0, len(index) - 11, 12):
        offset, size, _ = struct.unpack("<III", index[i : i + 12])
        if size:
            blocks.append(zlib.decompress(data[offset : offset + size]))
    xml = _decode(b"".join(blocks))
    pieces = _CHAPTER.split(xml)
    # pieces = [before, id1, text1, id2, text2, ...]
    for chapter_id, body in zip(pieces[1::2], pieces[2::2]):
        text = html.unescape(_OSIS_TAG.sub("", body))
        text = re.sub(r"[ \t]+", " ", text)
        text = re.sub(r" *\n[ \n]*", "\n", text).strip()
        yield chapter_id.replace(".", "_"), text


EXTRACTORS = {
    "plain": plain,
    "html_text": html_text,
    "roff": roff,
    "fortune": fortune,
    "sword_osis": sword_osis,
}


def chunk(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Cut ``text`` into pieces of at most ``max_chars`` at line breaks (a longer line is cut as is)."""
    text = text.strip()
    if len(text) <= max_chars:
        return [text] if text else []
    pieces, current, size = [], [], 0
    for line in text.splitlines(keepends=True):
        while len(line) > max_chars:
            if current:
                pieces.append("".join(current))
                current, size = [], 0
            pieces.append(line[:max_chars])
            line = line[max_chars:]
        if size + len(line) > max_chars and current:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        pieces.append("".join(current))
    return [p.strip() for p in pieces if p.strip()]
