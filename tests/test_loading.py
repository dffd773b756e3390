"""Model loading: every spec kind, with models the tests build themselves, and the error paths."""

from __future__ import annotations

import json

import pytest
import torch

from polytests.engine.models import load_model
from polytests.engine.models.loading import EMBEDDED_MODEL_DIR
from polytests.errors import ModelLoadError
from tests.helpers import write_tiny_native_model


def test_embedded_model_loads_with_its_sites():
    model = load_model("embedded")
    assert model.is_solu_ln and model.is_causal_lm
    assert model.n_layers == 4
    assert model.activation_site(2) == "blocks.2.mlp.ln.hook_in"
    assert model.ablation_site(2) == "blocks.2.mlp.hook_post"
    assert len(model.digest) == 64
    assert (EMBEDDED_MODEL_DIR / "MODEL_CARD.md").is_file()


def test_native_directory_roundtrip(tiny_model_dir):
    a, b = load_model(str(tiny_model_dir)), load_model(str(tiny_model_dir))
    assert a.digest == b.digest
    tokens = torch.tensor([[a.bos_token_id, 5, 6, 7]])
    torch.testing.assert_close(a.bridge(tokens), b.bridge(tokens))


@pytest.mark.parametrize("which", ["embedded", "tiny"])
def test_a_native_model_is_known_by_its_files_before_it_boots(which, tiny_model_dir):
    # The digest read from the safetensors bytes (no torch) is the digest of the loaded tensors,
    # so a run whose results are all cached keys them without booting the model.
    from safetensors.torch import load_file

    from polytests.engine.models.loaded import DeferredModel, state_dict_digest

    spec = "embedded" if which == "embedded" else str(tiny_model_dir)
    weights = (EMBEDDED_MODEL_DIR if which == "embedded" else tiny_model_dir) / "model.safetensors"
    model = load_model(spec)
    assert isinstance(model, DeferredModel) and not model.booted
    assert model.digest == state_dict_digest(load_file(str(weights)))
    shape = (model.n_layers, model.d_mlp, model.n_ctx, model.is_solu_ln, model.is_causal_lm, model.activation_site(1))
    assert not model.booted
    assert model.bridge is not None and model.booted  # first use boots it, once
    assert shape == (int(model.cfg.n_layers), int(model.cfg.d_mlp), int(model.cfg.n_ctx), model.loaded().is_solu_ln,
                     model.loaded().is_causal_lm, model.loaded().activation_site(1))
    assert model.loaded().digest == model.digest


def test_weights_changed_between_identity_and_boot_are_an_error(tmp_path, tiny_corpora):
    from safetensors.torch import load_file, save_file

    directory = write_tiny_native_model(tmp_path / "m", tiny_corpora)
    model = load_model(str(directory))
    weights = directory / "model.safetensors"
    tensors = load_file(str(weights))
    first = sorted(tensors)[0]
    tensors[first] = tensors[first] + 1
    save_file(tensors, str(weights))
    with pytest.raises(ModelLoadError, match="changed on disk while the run was using them"):
        model.bridge


def _tl_property_state_dict(bridge, cfg):
    """The legacy HookedTransformer property layout of a native bridge's weights."""
    sd = bridge.state_dict()
    n_heads, d_head = cfg.n_heads, cfg.d_head
    out = {"embed.W_E": sd["embed.weight"], "pos_embed.W_pos": sd["pos_embed.weight"],
           "ln_final.w": sd["ln_final.weight"], "ln_final.b": sd["ln_final.bias"],
           "unembed.W_U": sd["unembed.weight"].T}
    for L in range(cfg.n_layers):
        p = f"blocks.{L}."
        for n in ("q", "k", "v"):
            w = sd[p + f"attn.{n}.weight"]  # [n_heads*d_head, d_model]
            out[p + f"attn.W_{n.upper()}"] = w.reshape(n_heads, d_head, -1).transpose(1, 2)
            out[p + f"attn.b_{n.upper()}"] = sd[p + f"attn.{n}.bias"].reshape(n_heads, d_head)
        out[p + "attn.W_O"] = sd[p + "attn.o.weight"].T.reshape(n_heads, d_head, -1)
        out[p + "attn.b_O"] = sd[p + "attn.o.bias"]
        for ln in ("ln1", "ln2"):
            out[p + f"{ln}.w"], out[p + f"{ln}.b"] = sd[p + f"{ln}.weight"], sd[p + f"{ln}.bias"]
        out[p + "mlp.W_in"] = sd[p + "mlp.in.weight"].T
        out[p + "mlp.b_in"] = sd[p + "mlp.in.bias"]
        out[p + "mlp.W_out"] = sd[p + "mlp.out.weight"].T
        out[p + "mlp.b_out"] = sd[p + "mlp.out.bias"]
        out[p + "mlp.ln.w"], out[p + "mlp.ln.b"] = sd[p + "mlp.ln.weight"], sd[p + "mlp.ln.bias"]
    return out


def write_legacy_directory(reference, legacy):
    """A legacy TransformerLens checkpoint folder (config.json + *final.pth) of ``reference``."""
    cfg = reference.cfg
    legacy.mkdir(parents=True)
    torch.save(_tl_property_state_dict(reference.bridge, cfg), legacy / "model_final.pth")
    (legacy / "config.json").write_text(json.dumps({
        "d_model": cfg.d_model, "n_layers": cfg.n_layers, "d_mlp": cfg.d_mlp, "d_head": cfg.d_head,
        "n_heads": cfg.n_heads, "n_ctx": cfg.n_ctx, "d_vocab": cfg.d_vocab, "act_fn": "solu_ln",
        "attn_only": False, "normalization": "LN"}))
    reference.tokenizer.save_pretrained(str(legacy))
    return legacy


def test_legacy_transformerlens_directory(tiny_model_dir, tmp_path):
    reference = load_model(str(tiny_model_dir))
    legacy = write_legacy_directory(reference, tmp_path / "SoLU_tiny")
    loaded = load_model(str(legacy))
    tokens = torch.tensor([[reference.bos_token_id, 5, 6, 7, 8]])
    torch.testing.assert_close(loaded.bridge(tokens), reference.bridge(tokens), rtol=1e-5, atol=1e-5)
    assert loaded.is_solu_ln and loaded.activation_site(0) == "blocks.0.mlp.ln.hook_in"


def test_legacy_directory_without_weights_says_what_was_looked_for(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"d_model": 8}))
    with pytest.raises(ModelLoadError, match=r"final\.pth.*`hf download "):
        load_model(str(tmp_path))


def test_huggingface_directory(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=300, n_positions=32, n_embd=32, n_layer=2, n_head=4)).eval()
    hf_dir = tmp_path / "tiny-gpt2"
    model.save_pretrained(str(hf_dir))
    AutoTokenizer.from_pretrained(str(tiny_model_dir)).save_pretrained(str(hf_dir))
    loaded = load_model(str(hf_dir))
    assert not loaded.is_solu_ln and loaded.is_causal_lm
    assert loaded.activation_site(1) == "blocks.1.mlp.hook_post"
    tokens = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        torch.testing.assert_close(loaded.bridge(tokens), model(tokens).logits, rtol=1e-4, atol=1e-4)


def test_huggingface_directory_without_weights(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ModelLoadError, match=r"no weights.*\*\.safetensors"):
        load_model(str(tmp_path))


def test_alias_resolves_from_the_local_hugging_face_cache(tiny_model_dir, tmp_path, monkeypatch):
    reference = load_model(str(tiny_model_dir))
    repo = tmp_path / "hub" / "models--NeelNanda--SoLU_4L512W_C4_Code"
    write_legacy_directory(reference, repo / "snapshots" / ("0" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = load_model("solu-4l")
    assert loaded.name == "NeelNanda/SoLU_4L512W_C4_Code" and loaded.digest
    tokens = torch.tensor([[reference.bos_token_id, 5, 6, 7]])
    torch.testing.assert_close(loaded.bridge(tokens), reference.bridge(tokens), rtol=1e-5, atol=1e-5)


def test_alias_not_in_local_cache_fails_fast_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(ModelLoadError, match=r"NeelNanda/SoLU_4L512W_C4_Code.*never downloads"):
        load_model("solu-4l")


def test_unknown_spec_and_missing_directory_files(tmp_path):
    with pytest.raises(ModelLoadError, match="neither 'embedded'"):
        load_model("no-such-model")
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(str(tmp_path))
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(str(tmp_path / "missing"))


def test_corrupt_native_weights_are_named(tmp_path, tiny_corpora):
    directory = write_tiny_native_model(tmp_path / "m", tiny_corpora)
    (directory / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(ModelLoadError, match="model.safetensors is damaged: its header does not parse"):
        load_model(str(directory))


@pytest.mark.parametrize("keep", [4, 0.5, 0.999])
def test_a_truncated_huggingface_weight_file_is_called_damaged_with_how_to_fetch_it_again(tmp_path, tiny_model_dir,
                                                                                          keep):
    # #28: a cut download used to be reported as an architecture TransformerLens may not support.
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    hf_dir = tmp_path / "tiny-gpt2"
    GPT2LMHeadModel(GPT2Config(vocab_size=300, n_positions=32, n_embd=32, n_layer=2, n_head=4)).save_pretrained(
        str(hf_dir))
    AutoTokenizer.from_pretrained(str(tiny_model_dir)).save_pretrained(str(hf_dir))
    weights = hf_dir / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:keep] if isinstance(keep, int) else data[: int(len(data) * keep)])
    with pytest.raises(ModelLoadError) as err:
        load_model(str(hf_dir))
    message = str(err.value)
    assert "model.safetensors is damaged" in message and "hf download REPO --local-dir" in message
    assert "architecture" not in message


def test_encoder_is_not_a_causal_lm(tmp_path, tiny_corpora):
    directory = write_tiny_native_model(tmp_path / "enc", tiny_corpora, attention_dir="bidirectional")
    assert not load_model(str(directory)).is_causal_lm


def test_a_bare_hub_name_absent_from_the_cache_is_skipped_with_the_download_command(tmp_path, monkeypatch):
    # gpt2 and openai-community/gpt2 are the same promise (docs/models.md): skipped, not failed.
    from polytests.errors import ModelWeightsAbsent

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelWeightsAbsent, match=r"`hf download gpt2`"):
        load_model("gpt2")
    with pytest.raises(ModelWeightsAbsent, match=r"`hf download openai-community/gpt2`"):
        load_model("openai-community/gpt2")
    with pytest.raises(ModelLoadError) as info:  # not a name a hub could hold: a plain error
        load_model("no such model")
    assert not isinstance(info.value, ModelWeightsAbsent)
