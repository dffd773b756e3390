"""``polytests reference``: the reference text a model's neuron scales and null neurons come from.

Without options it says which reference the settings give and what it holds. ``--sample-from
reserved.jsonl`` rebuilds the embedded model's ``reference.jsonl`` from the reserved training text
(``polytests training-data`` writes it; the manifest pins its SHA-256), and ``--write-profiles``
computes every layer's profile (scale, firing rate, mean) at the model's default site and at
``hook_post`` and writes them beside the reference file, so a fresh clone does not recompute them.
"""

from __future__ import annotations

import json
from pathlib import Path

from polytests.engine.reference import (
    POST_SITE,
    PROFILES_FILE,
    REFERENCE_FILE,
    ReferenceProfiles,
    sample_reference,
    write_profiles,
    write_reference,
)
from polytests.training_data.gather import sha256_file


def rebuild_sample(reserved: Path, model_dir: Path, manifest: Path, say=print) -> str:
    """Write ``model_dir/reference.jsonl`` from ``reserved``; return its SHA-256. Says when the
    reserved text is not the one the manifest pins (the sample then differs from the shipped one)."""
    pinned = json.loads(manifest.read_text())
    expected = pinned.get("files", {}).get("reserved.jsonl", {}).get("sha256")
    got = sha256_file(reserved)
    if expected and got != expected:
        say(f"warning: {reserved} has sha256 {got[:12]}, the manifest {manifest.name} pins {expected[:12]}: the "
            "sample will not be the shipped one")
    with open(reserved, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return write_reference(sample_reference(rows, pinned["mix"]), model_dir / REFERENCE_FILE)


def write_all_profiles(model, reference, say=print) -> Path:
    """Profiles of every layer at the model's default site and at hook_post, beside the reference."""
    profiles = ReferenceProfiles(model, reference, None)
    computed = {}
    for site in (None, POST_SITE):
        for layer in range(model.n_layers):
            key = (layer, profiles.site_of(site))
            prof = computed[key] = profiles.profile(layer, site)
            say(f"layer {layer} at {key[1]}: median scale {float(sorted(prof.scale)[len(prof.scale) // 2]):.4g}")
    path = Path(reference.source).with_name(PROFILES_FILE)
    write_profiles(path, model.digest, reference.sha256, computed)
    return path


__all__ = ["rebuild_sample", "write_all_profiles"]
