"""polytests train-model: deterministic given the seed, resumable after a kill, loadable."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from polytests.engine.models import load_model
from polytests.engine.models.training import (
    CHECKPOINT,
    TrainingConfig,
    fast_logits,
    train_model,
)
from polytests.training_data.sources import MIX

TINY = TrainingConfig(seed=3, vocab_size=300, d_model=32, n_layers=2, n_heads=4, d_mlp=64, n_ctx=32,
                      batch_size=4, steps=6, warmup=2, eval_every=3, checkpoint_every=2,
                      tokenizer_chars=50_000, eval_tokens_per_kind=200)


@pytest.fixture(scope="module")
def tiny_text(tmp_path_factory):
    """A gathered-text folder in the layout `polytests training-data` writes, every kind present."""
    root = tmp_path_factory.mktemp("training-text")
    (root / "text").mkdir()
    rng = random.Random(0)
    words = {k: [f"{k[:3]}{i}" for i in range(40)] + ["the", "of", "(", ")", "=", "\n"] for k in MIX}
    reserved = []
    for kind in MIX:
        rows = []
        for i in range(12):
            text = " ".join(rng.choice(words[kind]) for _ in range(rng.randint(40, 120)))
            rows.append({"id": f"{kind}:{i}", "kind": kind, "text": text})
        reserved.append(rows.pop())
        (root / "text" / f"{kind}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "text" / "reserved.jsonl").write_text("".join(json.dumps(r) + "\n" for r in reserved))
    return root


def test_training_is_deterministic_and_loadable(tiny_text, tmp_path):
    logs = [train_model(tiny_text, tmp_path / name, TINY) for name in ("a", "b")]
    a, b = (tmp_path / n / "model.safetensors" for n in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()
    assert logs[0]["train_loss"] == logs[1]["train_loss"] and logs[0]["eval_steps"] == [3, 6]
    assert set(logs[0]["heldout_loss"][-1]) == set(MIX)  # every kind has held-out text
    assert not (tmp_path / "a" / CHECKPOINT).exists()  # a finished run leaves no checkpoint
    model = load_model(str(tmp_path / "a"))
    assert model.is_solu_ln and model.n_layers == 2 and model.d_mlp == 64
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["polytests_format"] == "polytests-native/1" and config["seed"] == 3
    other = train_model(tiny_text, tmp_path / "c", TrainingConfig(**{**TINY.__dict__, "seed": 4}))
    assert (tmp_path / "c" / "model.safetensors").read_bytes() != a.read_bytes() and other["train_loss"]


def test_a_killed_run_resumes_to_the_same_weights(tiny_text, tmp_path):
    whole = train_model(tiny_text, tmp_path / "whole", TINY)

    class Killed(Exception):
        pass

    def kill_at_step_5(step, total, loss, heldout):
        if step == 5:
            raise Killed

    with pytest.raises(Killed):
        train_model(tiny_text, tmp_path / "resumed", TINY, progress=kill_at_step_5)
    assert (tmp_path / "resumed" / CHECKPOINT).is_file()  # written at step 4
    resumed = train_model(tiny_text, tmp_path / "resumed", TINY)
    assert resumed["train_loss"] == whole["train_loss"]
    assert (tmp_path / "resumed" / "model.safetensors").read_bytes() == \
        (tmp_path / "whole" / "model.safetensors").read_bytes()


def test_a_checkpoint_from_another_config_is_refused(tiny_text, tmp_path):
    def stop(step, total, loss, heldout):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(tiny_text, tmp_path / "m", TINY, progress=stop)
    with pytest.raises(RuntimeError, match="another training config"):
        train_model(tiny_text, tmp_path / "m", TrainingConfig(**{**TINY.__dict__, "lr": 1e-3}))


def test_fast_training_forward_computes_the_bridge_forward(tiny_model):
    ids = torch.from_numpy(np.random.default_rng(0).integers(0, int(tiny_model.cfg.d_vocab), (3, 17)))
    with torch.no_grad():
        expected = tiny_model.bridge(ids)
        got = fast_logits(tiny_model.bridge.original_model, ids)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
