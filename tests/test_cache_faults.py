"""Cache and report faults: each detected, reported in one line, and never fatal to a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from polytests.engine.cache import ActivationCache, read_entry, write_entry
from polytests.errors import CacheError
from polytests.reports import detect_flips
from polytests.reports.files import read_previous_report

ARRAYS = {"means": np.arange(12, dtype=np.float32).reshape(3, 4)}
META = {"corpora": ["medical", "legal"], "neurons": ["L1N3"]}


def _flip(path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert data.count(old) >= 1
    path.write_bytes(data.replace(old, new, 1))


def test_header_corruption_is_detected(tmp_path):
    path = tmp_path / "entry.safetensors"
    write_entry(path, ARRAYS, META)
    assert read_entry(path)[1] == META
    _flip(path, b"medical", b"ledical")  # same length: the file still parses, the numbers are fine
    with pytest.raises(CacheError, match="checksum mismatch"):
        read_entry(path)


def test_data_corruption_is_detected_and_the_entry_dropped(tmp_path):
    cache = ActivationCache(tmp_path)
    path = cache.path_for("0" * 64, "m-confirm")
    write_entry(path, ARRAYS, META)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="checksum mismatch"):
        assert cache.load(path) is None
    assert not path.exists()


def test_an_unusable_cache_dir_falls_back_with_a_warning(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="unusable.*computing without a persistent cache"):
        cache = ActivationCache(blocker / "cache")
    assert cache.fallback_reason and cache.root.is_dir() and cache.root != blocker / "cache"
    path = cache.path_for("1" * 64, "m")
    write_entry(path, ARRAYS, META)
    np.testing.assert_array_equal(cache.load(path)[0]["means"], ARRAYS["means"])


def test_a_held_lock_times_out_with_a_message(tmp_path):
    cache = ActivationCache(tmp_path, lock_timeout=0.3)
    path = cache.path_for("2" * 64, "m")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from filelock import FileLock; l = FileLock(sys.argv[1]); l.acquire(); "
        "print('held', flush=True); time.sleep(30)"), str(path) + ".lock"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.warns(UserWarning, match=r"held by another process for 0.3s.*delete .*\.lock"):
            with cache.lock_for(path):
                write_entry(path, ARRAYS, META)
        assert cache.load(path) is not None
    finally:
        holder.kill()
        holder.wait()


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"m-{'3' * 24}.safetensors.{dead.stdout.strip()}.abcd1234.tmp"
    stale.write_bytes(b"x" * 1000)
    live = tmp_path / f"m-{'4' * 24}.safetensors.{os.getpid()}.efgh5678.tmp"
    live.write_bytes(b"y")
    with pytest.warns(UserWarning, match="interrupted write"):
        ActivationCache(tmp_path)
    assert not stale.exists() and live.exists()


def _result(claim_id: str, verdict: str, provenance: dict):
    import dataclasses

    from tests.test_reports import result

    return dataclasses.replace(result(verdict, claim_id=claim_id), provenance=provenance)


@pytest.mark.parametrize("content", ["", "{", '{"claims": 3}', '{"claims": [{"verdict": "confirmed"}]}',
                                     '{"claims": [{"claim_id": "a", "verdict": "refuted", "provenance": []}]}',
                                     '[1, 2]', "\xff\xfe"])
def test_a_malformed_previous_report_is_set_aside_with_a_warning(tmp_path, content):
    path = tmp_path / "claims.json"
    path.write_text(content, encoding="latin-1")
    flips = detect_flips([_result("a", "confirmed", {})], tmp_path)
    parses = content.startswith('{"claims": [{')
    assert parses or flips.flips == []  # never fatal, never a flip from garbage
    warnings: list[str] = []
    previous = read_previous_report(tmp_path, warnings, set_aside=True)
    if parses:  # parses: its unusable entries are skipped by flip detection
        assert previous is not None and path.exists()
    else:
        assert previous is None and any("malformed" in w for w in warnings)
        assert not path.exists() and len(list(tmp_path.glob("claims.json.malformed-*"))) == 1


def test_a_well_formed_previous_report_is_read(tmp_path):
    path = tmp_path / "claims.json"
    path.write_text(json.dumps({"claims": [{"claim_id": "a", "verdict": "refuted", "provenance": {"seed": 1}}]}))
    flips = detect_flips([_result("a", "confirmed", {"seed": 2})], tmp_path).flips
    assert flips[0]["before"] == "refuted" and "seed" in flips[0]["explanation"]
