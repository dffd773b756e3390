"""Held locks are never a silent wait (polytests/locks.py)."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from filelock import FileLock

from polytests.locks import acquire
from polytests.reports.atomic import LOCK_NAME, report_lock


def test_a_held_lock_is_announced_while_waiting_and_then_given_up(tmp_path, capsys):
    holder = FileLock(str(tmp_path / "x.lock"), thread_local=False)
    holder.acquire()
    try:
        waiter = FileLock(str(tmp_path / "x.lock"), thread_local=False, is_singleton=False)
        assert not acquire(waiter, 0.35, "a test's lock", notice_every=0.1, first_notice=0.1)
    finally:
        holder.release()
    err = capsys.readouterr().err
    assert err.count("waiting for a test's lock") >= 2 and "x.lock is held by another process" in err
    assert acquire(FileLock(str(tmp_path / "x.lock"), is_singleton=False), 0.2, "a free lock")


def test_a_free_lock_is_taken_at_once_in_silence(tmp_path, capsys):
    lock = FileLock(str(tmp_path / "y.lock"))
    assert acquire(lock, 0, "a free lock")
    lock.release()
    assert capsys.readouterr().err == ""


def test_a_held_report_folder_says_so(tmp_path):
    holder = FileLock(str(tmp_path / LOCK_NAME), thread_local=False)
    holder.acquire()
    try:
        with pytest.raises(TimeoutError), report_lock(tmp_path, timeout=0.1):
            pass
    finally:
        holder.release()


def test_the_first_message_comes_within_seconds_and_names_the_holder(tmp_path, capsys):
    """#28: the holder (pid, host, since when) is named in the first notice, after FIRST_NOTICE seconds."""
    from polytests.locks import FIRST_NOTICE

    path = tmp_path / "held.lock"
    ready = tmp_path / "ready"
    code = (f"from filelock import FileLock; from polytests.locks import acquire; import time, pathlib; "
            f"l = FileLock({str(path)!r}); acquire(l, 0, 'x'); pathlib.Path({str(ready)!r}).touch(); time.sleep(30)")
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        start = time.monotonic()
        assert not acquire(FileLock(str(path), is_singleton=False), FIRST_NOTICE + 1.0, "a held entry")
        assert time.monotonic() - start < FIRST_NOTICE + 3
    finally:
        child.kill()
        child.wait()
    err = capsys.readouterr().err
    assert err.count("waiting for a held entry") == 1 and f"pid {child.pid} on " in err and "since" in err
    assert "lock_timeout" in err
    # The dead holder's lock was released by the kernel: taken at once; its stale note is overwritten.
    lock = FileLock(str(path), is_singleton=False)
    assert acquire(lock, 1.0, "a freed entry")
    assert str(os.getpid()) in (tmp_path / "held.lock.holder").read_text()
    lock.release()


def _hold_in_child(lock_path, tmp_path):
    ready = tmp_path / f"ready-{os.path.basename(str(lock_path))}"
    code = (f"from filelock import FileLock; from polytests.locks import acquire; import time, pathlib; "
            f"l = FileLock({str(lock_path)!r}); acquire(l, 0, 'x'); pathlib.Path({str(ready)!r}).touch(); "
            f"time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return child


class _Stamped(io.StringIO):
    """stderr that notes when its first line was written."""

    def __init__(self):
        super().__init__()
        self.first_at = None

    def write(self, text):
        if self.first_at is None and text.strip():
            self.first_at = time.monotonic()
        return super().write(text)


def _measure(what_it_does, monkeypatch):
    """(outcome, seconds it took, seconds to the first line on stderr, stderr) of ``what_it_does``."""
    stream = _Stamped()
    with monkeypatch.context() as patched:
        patched.setattr(sys, "stderr", stream)
        start = time.monotonic()
        outcome = what_it_does()
        took = time.monotonic() - start
    first = None if stream.first_at is None else stream.first_at - start
    return outcome, took, first, stream.getvalue()


DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
START, END = "<!-- locks table: start -->", "<!-- locks table: end -->"
# How late a first message may come, in seconds after FIRST_NOTICE: the waiter's own poll and a
# loaded machine's scheduling (measured here: a few hundredths of a second).
LATE = 1.0
_MEASURED = re.compile(r"measured: (\d+\.\d) s")


def _locks_table(rows) -> str:
    from polytests.locks import FIRST_NOTICE, NOTICE_EVERY

    lines = ["| lock | first message (measured by this test) | names | after `lock_timeout` |", "|---|---|---|---|"]
    for lock, first, after in rows:
        lines.append(f"| {lock} | after {FIRST_NOTICE:g} s (`locks.FIRST_NOTICE`; measured: {first:.1f} s), then "
                     f"every {NOTICE_EVERY:g} s | pid, host, since when, seconds waited of the timeout | {after} |")
    return "\n".join(lines)


def _check_or_write_locks_table(table: str, measured: list[float]) -> None:
    """Hold docs/reliability.md's locks table to ``table``, with POLYTESTS_UPDATE_DOCS=1 write it there
    first. The measured seconds vary from run to run: they are compared by bound, not by digit (every
    number, in the doc and measured now, between FIRST_NOTICE and FIRST_NOTICE + LATE); the rest is
    compared word for word."""
    from polytests.locks import FIRST_NOTICE

    current = DOC.read_text(encoding="utf-8")
    before, rest = current.split(START, 1)
    written, after = rest.split(END, 1)
    if os.environ.get("POLYTESTS_UPDATE_DOCS") == "1":
        DOC.write_text(f"{before}{START}\n{table}\n{END}{after}", encoding="utf-8")
        written = f"\n{table}\n"
    documented = [float(s) for s in _MEASURED.findall(written)]
    assert len(documented) == len(measured), "rerun with POLYTESTS_UPDATE_DOCS=1 pytest tests/test_locks.py"
    assert all(FIRST_NOTICE <= s <= FIRST_NOTICE + LATE for s in documented + measured), (documented, measured)
    assert _MEASURED.sub("measured: N s", written.strip()) == _MEASURED.sub("measured: N s", table), (
        f"{DOC.name}'s locks table is out of date: rerun with POLYTESTS_UPDATE_DOCS=1 pytest tests/test_locks.py")


def test_every_lock_names_its_holder_and_ends_as_documented(tmp_path, monkeypatch, recwarn):
    """#28: the three locks a run can wait on, held by another process past lock_timeout (3 s here):
    a first message naming the holder (pid, host, since when, seconds waited) within LATE seconds
    after FIRST_NOTICE, then the documented outcome. docs/reliability.md's locks table is this test's
    output (POLYTESTS_UPDATE_DOCS=1 rewrites it): each row's outcome is what the test checks, and its
    seconds to the first message what it measured, held to the bound above rather than to the digit."""
    from polytests.engine.cache import ActivationCache
    from polytests.engine.result_cache import ResultCache
    from polytests.locks import FIRST_NOTICE

    timeout = 3.0
    entry = tmp_path / "acts" / "entry.safetensors"
    entry.parent.mkdir()
    result = tmp_path / "results" / "claim-key.pkl"
    result.parent.mkdir()
    folder = tmp_path / "reports"
    folder.mkdir()
    cases = {  # name in the doc -> (lock file, the wait, what happens after lock_timeout)
        "activation-cache entry (`<entry>.safetensors.lock`)": (
            str(entry) + ".lock",
            lambda: _enter(ActivationCache(tmp_path / "acts", lock_timeout=timeout).lock_for(entry)),
            "a warning; the activations are computed without the lock (writes are atomic renames: two writers "
            "cannot leave half a file)"),
        "a claim's cached result (`results/<claim>-<key>.pkl.lock`)": (
            str(result) + ".lock",
            lambda: ResultCache(tmp_path / "results", lock_timeout=timeout).lock(result, wait=True),
            "a warning; the claim is computed here"),
        f"report folder (`reports/{LOCK_NAME}`)": (
            str(folder / LOCK_NAME), lambda: _raises(lambda: _enter(report_lock(folder, timeout))),
            "one red line: the verdicts stand, no report and no ledger line were written; rerun, or raise "
            "`lock_timeout`"),
    }
    rows, firsts = [], []
    for name, (lock_path, wait, after) in cases.items():
        child = _hold_in_child(lock_path, tmp_path)
        try:
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always")
                outcome, took, first, err = _measure(wait, monkeypatch)
        finally:
            child.kill()
            child.wait()
        assert timeout <= took < timeout + 3, name
        assert first is not None and FIRST_NOTICE <= first <= FIRST_NOTICE + LATE, (name, first)
        assert f"held by pid {child.pid} on {socket.gethostname()} since " in err, (name, err)
        assert re.search(rf"\(\d+s ago\) \(\d+s of at most {timeout:g}s;", err.splitlines()[0]), err  # waited
        warned = " ".join(str(w.message) for w in said)
        if name.startswith("report folder"):  # polytests/plugin.py then prints the red line
            assert isinstance(outcome, TimeoutError) and not warned
        elif name.startswith("activation"):
            assert outcome == "entered" and "computing this entry without waiting" in warned
        else:
            assert outcome is None and "computing the claim here" in warned
        rows.append((name, first, after))
        firsts.append(first)
    _check_or_write_locks_table(_locks_table(rows), firsts)


def _enter(context):
    with context:
        return "entered"


def _raises(fn):
    try:
        fn()
    except TimeoutError as exc:
        return exc
    return None
