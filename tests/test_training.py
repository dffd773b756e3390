"""polytests train-model: deterministic given the seed, and writes a loadable model."""

from __future__ import annotations

import json

from polytests.models import load_model
from polytests.models.training import TrainingConfig, train_model

TINY = TrainingConfig(seed=3, vocab_size=300, d_model=32, n_layers=2, n_heads=4, d_mlp=64, n_ctx=32,
                      batch_size=4, steps=6, warmup=2, eval_every=3)


def test_training_is_deterministic_and_loadable(tiny_corpora, tmp_path):
    logs = [train_model(tiny_corpora, tmp_path / name, TINY) for name in ("a", "b")]
    a, b = (tmp_path / n / "model.safetensors" for n in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()
    assert logs[0]["train_loss"] == logs[1]["train_loss"] and logs[0]["best_step"] in (3, 6)
    model = load_model(str(tmp_path / "a"))
    assert model.is_solu_ln and model.n_layers == 2 and model.d_mlp == 64
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["polytests_format"] == "polytests-native/1" and config["seed"] == 3
    other = train_model(tiny_corpora, tmp_path / "c", TrainingConfig(**{**TINY.__dict__, "seed": 4}))
    assert (tmp_path / "c" / "model.safetensors").read_bytes() != a.read_bytes() and other["train_loss"]
