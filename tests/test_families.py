"""Models of each family on disk (tests/families.py): read as the family expects, identified by
what is on disk, cached, ablated (decoders) or refused ablation (encoders)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from polytests.corpora import load_corpora
from polytests.engine.activations import CollectionRequest, collect
from polytests.engine.cache import ActivationCache

# pytester's in-process runs drop modules first imported inside a test (tests/conftest.py imports
# what the plugin uses up front); the pytester tests below also take the module-scoped ``models``
# fixture so that transformers and TransformerLens are imported before any run (a second import
# of `datasets` fails in pyarrow).
from polytests.engine.delta_loss import batched_delta_loss, naive_delta_loss
from polytests.engine.models import load_model
from polytests.engine.models.loading import resolve_device
from polytests.engine.store import build_store
from polytests.engine.tokenization import tokenize_documents
from polytests.errors import ModelLoadError, ModelWeightsAbsent
from polytests.neurons import NeuronRef
from tests.families import DECODERS, FAMILIES, N_CTX, mlp_output_projection, write_gguf
from tests.helpers import alpha_neurons

NEURON = NeuronRef(1, 5)


@pytest.fixture(scope="module")
def models(tiny_families):
    return {family: load_model(str(spec)) for family, spec in tiny_families.items()}


@pytest.fixture(scope="module")
def documents(tiny_corpora):
    return [d for c in load_corpora(tiny_corpora).values() for d in c.split("confirm")][::4]


def _hf_model(family, spec):
    """The same weights through plain transformers (eager attention, as the bridge runs them)."""
    from transformers import AutoModelForCausalLM, BertModel

    if family == "gguf":
        return AutoModelForCausalLM.from_pretrained(str(spec.parent), gguf_file=spec.name, dtype=torch.float32,
                                                    attn_implementation="eager").eval()
    if family == "bert":
        return BertModel.from_pretrained(str(spec), attn_implementation="eager").eval()
    return AutoModelForCausalLM.from_pretrained(str(spec), attn_implementation="eager").eval()


def _expected_start(family, model):
    """The start token each family's own files name (written here, not read from polytests)."""
    tok = model.tokenizer
    config = json.loads((Path(model.source) / "config.json").read_text()) if family != "gguf" else {}
    return {"gpt2": tok.convert_tokens_to_ids("<|endoftext|>"),  # the tokenizer's BOS
            "neox": config.get("bos_token_id"),  # the tokenizer names none: the config's
            "llama": tok.convert_tokens_to_ids("<s>"),  # the tokenizer adds its own <s>
            "gguf": 0,  # tokenizer.ggml.bos_token_id
            "bert": tok.convert_tokens_to_ids("[CLS]")}[family]


@pytest.mark.parametrize("family", FAMILIES)
def test_windows_start_with_the_familys_own_special_tokens(models, family):
    model = models[family]
    fmt = model.input_format
    start = _expected_start(family, model)
    assert fmt.prefix == (start,)
    unk = model.tokenizer.unk_token_id
    assert unk is None or start != unk
    if family == "bert":
        assert fmt.suffix == (model.tokenizer.convert_tokens_to_ids("[SEP]"),) and fmt.bidirectional
        assert fmt.pad == model.tokenizer.pad_token_id and not model.is_causal_lm
        assert "<|endoftext|>" not in model.tokenizer.get_vocab()
    else:
        assert fmt.suffix == () and not fmt.bidirectional and model.is_causal_lm
    assert fmt.n_ctx == N_CTX and fmt.window_size == N_CTX - len(fmt.prefix) - len(fmt.suffix)


@pytest.mark.parametrize("family", FAMILIES)
def test_activations_are_those_transformers_computes_on_the_familys_input(models, tiny_families, documents, family):
    """Per-token activations at hook_post equal the input of the MLP's output projection in plain
    transformers, run on what the family's own tokenizer makes of each document."""
    model = models[family]
    hf = _hf_model(family, tiny_families[family])
    tokens = tokenize_documents(model.tokenizer, documents)
    col = collect(model, tokens, CollectionRequest(layers=(1,), neurons=(NEURON,)))
    captured = {}
    projection = mlp_output_projection(hf, family, NEURON.layer)
    handle = projection.register_forward_pre_hook(lambda mod, args: captured.__setitem__("post", args[0]))
    start = _expected_start(family, model)
    checked = 0
    try:
        for i, doc in enumerate(documents):
            ids = tokens.doc_tokens(i).tolist()
            if len(ids) > model.input_format.window_size:
                continue  # one window per document here; windowing is tested in test_activations
            if family == "bert":  # the tokenizer's own wrapping: [CLS] text [SEP]
                row = model.tokenizer(doc.text)["input_ids"]
                assert row == [start, *ids, model.tokenizer.sep_token_id]
            else:
                row = [start, *ids]
            with torch.no_grad():
                hf(torch.tensor([row]))
            expected = captured["post"][0, 1 : 1 + len(ids), NEURON.index].numpy()
            got = col.token_acts[NEURON][tokens.offsets[i] : tokens.offsets[i + 1]]
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
            checked += 1
    finally:
        handle.remove()
    assert checked >= 5


@pytest.mark.parametrize("family", FAMILIES)
def test_digest_is_stable_across_loads_and_names_what_is_on_disk(tiny_families, family):
    a, b = load_model(str(tiny_families[family])), load_model(str(tiny_families[family]))
    assert a.digest == b.digest and len(a.digest) == 64
    if family == "bert":
        # The encoder was saved without its MLM head: transformers initialises one at random on
        # every load, so a digest of the bridge's parameters would change from load to load.
        sa, sb = a.bridge.state_dict(), b.bridge.state_dict()
        assert any(not torch.equal(sa[k], sb[k]) for k in sa)
    assert "/" in a.name or a.name == "tiny-llama-gguf"  # never a bare folder basename
    assert a.name != tiny_families[family].name


def test_copies_with_one_basename_are_told_apart_and_identical_copies_are_one_model(tiny_families, tmp_path):
    from polytests.settings import Settings
    from polytests.verdicts.runner import ClaimRunner

    first, second = tmp_path / "a" / "model", tmp_path / "b" / "model"
    shutil.copytree(tiny_families["gpt2"], first)
    shutil.copytree(tiny_families["neox"], second)
    same = tmp_path / "c" / "model"
    shutil.copytree(tiny_families["gpt2"], same)
    runner = ClaimRunner(Settings(root=str(tmp_path), cache_dir=str(tmp_path / "cache")))
    a, b, c = (runner.model(str(p)) for p in (first, second, same))
    assert a.digest != b.digest and a.name != b.name
    assert c is a  # the same weights under another path: one model, one store


@pytest.mark.parametrize("family", FAMILIES)
def test_the_second_run_reads_the_activation_cache(tiny_families, documents, tmp_path, family):
    request = CollectionRequest(layers=(0, 1), neurons=(NEURON,))
    cache = ActivationCache(tmp_path / "cache")
    first = build_store(load_model(str(tiny_families[family])), documents, "confirm", request, cache=cache)
    second = build_store(load_model(str(tiny_families[family])), documents, "confirm", request,
                         cache=ActivationCache(tmp_path / "cache"))
    assert not first.from_cache and second.from_cache
    np.testing.assert_array_equal(first.token_activations(NEURON), second.token_activations(NEURON))


@pytest.mark.parametrize("family", DECODERS)
@pytest.mark.parametrize("layer", [0, 1])
def test_ablation_on_decoders_matches_a_full_forward_with_the_neuron_replaced(models, documents, family, layer):
    model = models[family]
    tokens = tokenize_documents(model.tokenizer, documents[:12])
    neurons = [3, 17, 40]
    batched = batched_delta_loss(model, tokens, layer, neurons, "zero", chunk=2)
    naive = np.stack([naive_delta_loss(model, tokens, layer, n, "zero") for n in neurons])
    assert np.abs(naive).max() > 0  # the ablation changes something to compare
    np.testing.assert_allclose(batched, naive, rtol=1e-4, atol=1e-6)


def test_gguf_logits_are_those_of_the_model_written(tmp_path, tiny_families):
    path, reference = write_gguf(tmp_path / "exact.gguf")
    loaded = load_model(str(path))
    rows = torch.tensor([[0, 5, 6, 7, 100, 200, 300]])
    with torch.no_grad():
        torch.testing.assert_close(loaded.bridge(rows), reference(rows).logits, rtol=1e-4, atol=1e-5)
        # The same weights written with transformers' q/k row order are a different model:
        wrong = load_model(str(write_gguf(tmp_path / "unpermuted.gguf", permute=False)[0]))
        assert (wrong.bridge(rows) - reference(rows).logits).abs().max() > 1e-3
        # Quantized (Q8_0) weights are dequantized on load: close to, not equal to, the float model.
        quantized = load_model(str(write_gguf(tmp_path / "q8.gguf", quantization="Q8_0")[0]))
        gap = (quantized.bridge(rows) - reference(rows).logits).abs().max()
        assert 0 < gap < 0.05
    assert quantized.digest != loaded.digest and loaded.form == "gguf" and loaded.name == "tiny-llama-gguf"


def test_a_folder_holding_one_gguf_file_is_that_file(tiny_families):
    by_file, by_folder = load_model(str(tiny_families["gguf"])), load_model(str(tiny_families["gguf"].parent))
    assert by_file.digest == by_folder.digest


def test_relative_paths_are_paths_read_from_the_project_root(tiny_families, tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    shutil.copytree(tiny_families["gpt2"], tmp_path / "models" / "foo")
    monkeypatch.chdir(tmp_path / "models")  # the working directory is not where the path starts
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert load_model("models/foo", root=tmp_path).form == "huggingface"
    with pytest.raises(ModelWeightsAbsent, match=r"no folder models/bar .*write ./models/bar"):
        load_model("models/bar", root=tmp_path)
    with pytest.raises(ModelLoadError, match=r"model path models/bar/ does not exist"):
        load_model("models/bar/", root=tmp_path)
    with pytest.raises(ModelLoadError, match=r"missing\.gguf does not exist"):
        load_model("missing.gguf", root=tmp_path)


def _cache(hub, repo_id, folder):
    snapshot = hub / f"models--{repo_id.replace('/', '--')}" / "snapshots" / ("1" * 40)
    shutil.copytree(folder, snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("1" * 40)


def test_a_hub_id_in_the_local_cache_keeps_its_id_as_name(tiny_families, tmp_path, monkeypatch):
    _cache(tmp_path / "hub", "tiny-org/tiny-gpt2", tiny_families["gpt2"])
    _cache(tmp_path / "hub", "tinygpt", tiny_families["gpt2"])  # a bare hub name, as gpt2 is
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    loaded = load_model("tiny-org/tiny-gpt2", root=tmp_path)
    assert loaded.name == "tiny-org/tiny-gpt2"
    assert loaded.digest == load_model(str(tiny_families["gpt2"])).digest == load_model("tinygpt").digest
    assert load_model("tinygpt").name == "tinygpt"
    with pytest.raises(ModelLoadError, match="no model of that name is in the local Hugging Face cache"):
        load_model("tinygtp")


def test_messages_name_the_command_that_works_today(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelWeightsAbsent) as excinfo:
        load_model("gelu-2l")
    assert "`hf download NeelNanda/GELU_2L512W_C4_Code" in str(excinfo.value)
    assert "huggingface-cli" not in str(excinfo.value)


def test_an_encoder_transformerlens_cannot_boot_is_refused_in_one_plain_message(tiny_families, tmp_path):
    """DistilBERT (and ALBERT, ELECTRA, DeBERTa) has no adapter in TransformerLens 4.3: one message says so."""
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForMaskedLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_families["bert"]))
    DistilBertForMaskedLM(DistilBertConfig(vocab_size=len(tokenizer), max_position_embeddings=N_CTX, dim=32,
                                           n_layers=2, n_heads=4, hidden_dim=64)).save_pretrained(str(tmp_path))
    tokenizer.save_pretrained(str(tmp_path))
    with pytest.raises(ModelLoadError) as excinfo:
        load_model(str(tmp_path))
    message = str(excinfo.value)
    assert "has no adapter for this architecture (DistilBertForMaskedLM)" in message and "Fix:" in message
    assert len(message) < 500  # not TransformerLens' list of every architecture it knows


def test_device_auto_is_cuda_when_present(monkeypatch):
    from polytests.settings import Settings

    assert Settings().device == "auto"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cpu") == "cpu" and resolve_device(None) is None


def test_the_runner_loads_on_the_automatic_device(tiny_model_dir, monkeypatch):
    from polytests.settings import Settings
    from polytests.verdicts.runner import ClaimRunner

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model = ClaimRunner(Settings()).model(str(tiny_model_dir))
    assert next(model.bridge.parameters()).device.type == "cpu"


# -- through the plugin -------------------------------------------------------------------------

def _project(pytester, model_spec, claims: str):
    pytester.makepyprojecttoml(f"""
[tool.polytests]
model = "{model_spec}"
corpora = "{pytester.polytests_corpora}"
resamples = 199
cache_dir = "{pytester.path / 'cache'}"
""")
    (pytester.mkdir("hypotheses") / "claims.toml").write_text(claims)
    return pytester


def _claim(cid, neuron, predicate, extra=""):
    return f'[[claim]]\nid = "{cid}"\nstatement = "{cid} in words"\nneuron = "{neuron}"\n{extra}\n' \
           f'[[claim.predicate]]\n{predicate}\n\n'


def _strongest_on_alpha(model, documents):
    return alpha_neurons(model, documents)[0]


def _claims_json(pytester):
    data = json.loads((pytester.path / "reports" / "claims.json").read_text())
    return {c["claim_id"]: c for c in data["claims"]}


def test_an_encoder_ablation_claim_is_refused_before_any_activation_is_collected(
        models, pytester, tiny_families, tiny_corpora, monkeypatch):
    import polytests.engine.store
    import polytests.verdicts.runner

    bert = load_model(str(tiny_families["bert"]))
    confirm = [d for c in load_corpora(tiny_corpora).values() for d in c.split("confirm")]
    neuron = _strongest_on_alpha(bert, confirm)
    pytester.polytests_corpora = tiny_corpora
    _project(pytester, tiny_families["bert"],
             # A random encoder's neurons respond weakly: the claim states a small smallest effect.
             _claim("encoder-fires", neuron, 'kind = "fires_on"\ncorpus = "alpha"\nmin_effect = 0.002')
             + _claim("encoder-ablation", neuron, 'kind = "ablation_hurts"\ncorpora = ["alpha"]'))
    events = []
    check, build = polytests.verdicts.runner.ClaimRunner.check_claim, polytests.engine.store.build_store

    def spy_check(self, claim):
        try:
            return check(self, claim)
        except Exception:
            events.append(("refused", claim.id))
            raise

    def spy_build(*args, **kwargs):
        events.append(("store", args[2]))
        return build(*args, **kwargs)

    monkeypatch.setattr(polytests.verdicts.runner.ClaimRunner, "check_claim", spy_check)
    monkeypatch.setattr(polytests.engine.store, "build_store", spy_build)
    result = pytester.runpytest("hypotheses", "-p", "no:cacheprovider", "-rA")
    out = result.stdout.str()
    assert ("refused", "encoder-ablation") in events
    assert events.index(("refused", "encoder-ablation")) < next(i for i, e in enumerate(events) if e[0] == "store")
    assert "refused before any activation was collected: encoder-ablation" in out
    assert "has no causal language-model head, so ablation predicates (next-token loss) cannot be evaluated" in out
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and outcomes.get("passed") == 1, out
    claims = _claims_json(pytester)
    assert claims["encoder-fires"]["verdict"] == "confirmed"
    assert claims["encoder-fires"]["family_size"] == 1  # the refused claim is no member of the family
    assert claims["encoder-fires"]["provenance"]["model_digest"] == bert.digest


@pytest.mark.parametrize("family", ["llama", "gguf"])
def test_a_decoder_gets_the_whole_tool_and_its_second_run_reads_the_cache(models, pytester, tiny_families,
                                                                          tiny_corpora, family):
    model = load_model(str(tiny_families[family]))
    confirm = [d for c in load_corpora(tiny_corpora).values() for d in c.split("confirm")]
    neuron = _strongest_on_alpha(model, confirm)
    pytester.polytests_corpora = tiny_corpora
    _project(pytester, tiny_families[family],
             _claim("decoder-fires", neuron, 'kind = "fires_on"\ncorpus = "alpha"')
             + _claim("decoder-ablation", neuron, 'kind = "ablation_hurts"\ncorpora = ["alpha"]\nn_null = 19'))
    first = pytester.runpytest("hypotheses", "-p", "no:cacheprovider")
    assert "error" not in first.parseoutcomes(), first.stdout.str()
    claims = _claims_json(pytester)
    assert set(claims) == {"decoder-fires", "decoder-ablation"}
    assert claims["decoder-ablation"]["predicates"][0]["numbers"]["n_null"] == 19
    assert not claims["decoder-fires"]["provenance"]["from_cache"]
    pytester.runpytest("hypotheses", "-p", "no:cacheprovider")
    again = _claims_json(pytester)
    assert all(c["provenance"]["from_cache"] for c in again.values())
    assert {k: c["verdict"] for k, c in again.items()} == {k: c["verdict"] for k, c in claims.items()}
    assert again["decoder-fires"]["provenance"]["model_digest"] == model.digest


def test_claims_on_a_model_not_on_this_machine_are_skipped_and_left_out_of_the_family(
        models, pytester, tiny_model_dir, tiny_model, tiny_corpora, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    confirm = [d for c in load_corpora(tiny_corpora).values() for d in c.split("confirm")]
    neuron = _strongest_on_alpha(tiny_model, confirm)
    pytester.polytests_corpora = tiny_corpora
    _project(pytester, tiny_model_dir,
             _claim("here", neuron, 'kind = "fires_on"\ncorpus = "alpha"')
             + _claim("not-here", "L3N5", 'kind = "fires_on"\ncorpus = "alpha"', extra='model = "solu-4l"'))
    result = pytester.runpytest("hypotheses", "-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    out = result.stdout.str()
    assert "model not on this machine" in out and "`hf download NeelNanda/SoLU_4L512W_C4_Code" in out
    assert _claims_json(pytester)["here"]["family_size"] == 1
