"""Held locks are never a silent wait (polytests/locks.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

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


def _measure(what_it_does, capsys):
    start = time.monotonic()
    outcome = what_it_does()
    took = time.monotonic() - start
    return outcome, took, capsys.readouterr().err


def test_every_lock_names_its_holder_and_ends_as_documented(tmp_path, capsys, recwarn):
    """#28: the three locks a run can wait on, held by another process past lock_timeout (3 s here):
    a first message within FIRST_NOTICE seconds naming the holder's pid, then the documented outcome."""
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
    cases = {
        "activation cache entry": (str(entry) + ".lock", lambda: _enter(ActivationCache(tmp_path / "acts",
                                                                                       lock_timeout=timeout)
                                                                        .lock_for(entry))),
        "claim's cached result": (str(result) + ".lock",
                                  lambda: ResultCache(tmp_path / "results", lock_timeout=timeout).lock(result, wait=True)),
        "report folder": (str(folder / LOCK_NAME), lambda: _raises(lambda: _enter(report_lock(folder, timeout)))),
    }
    for name, (lock_path, wait) in cases.items():
        child = _hold_in_child(lock_path, tmp_path)
        try:
            outcome, took, err = _measure(wait, capsys)
        finally:
            child.kill()
            child.wait()
        assert timeout <= took < timeout + 3, name
        assert f"held by pid {child.pid} on " in err, (name, err)
        first = err.splitlines()[0]
        assert "(2s of at most 3s" in first or f"({FIRST_NOTICE:.0f}s of" in first, first
        if name == "report folder":
            assert isinstance(outcome, TimeoutError)
        else:
            assert outcome is None or outcome == "entered"
    said = " ".join(str(w.message) for w in recwarn)
    assert "computing this entry without waiting" in said and "computing the claim here" in said


def _enter(context):
    with context:
        return "entered"


def _raises(fn):
    try:
        fn()
    except TimeoutError as exc:
        return exc
    return None
