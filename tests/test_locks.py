"""Held locks are never a silent wait (polytests/locks.py)."""

from __future__ import annotations

import pytest
from filelock import FileLock

from polytests.locks import acquire
from polytests.reports.atomic import LOCK_NAME, report_lock


def test_a_held_lock_is_announced_while_waiting_and_then_given_up(tmp_path, capsys):
    holder = FileLock(str(tmp_path / "x.lock"), thread_local=False)
    holder.acquire()
    try:
        waiter = FileLock(str(tmp_path / "x.lock"), thread_local=False, is_singleton=False)
        assert not acquire(waiter, 0.35, "a test's lock", notice_every=0.1)
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
