"""Tiny randomly initialised models of each family, saved the way a researcher has them on disk.

Every model is seeded, has 2 layers and a residual of 32, and is written with
``save_pretrained`` (or, for GGUF, with the ``gguf`` package's writer) next to its own
tokenizer, so the tests exercise the loading paths a downloaded model takes without a
download. The families differ where polytests must not assume:

- ``gpt2``: the tokenizer's BOS (``<|endoftext|>``) starts each window;
- ``neox``: the tokenizer names no BOS, the config's ``bos_token_id`` does;
- ``llama``: the tokenizer itself adds ``<s>`` (a token of its own) before a text;
- ``bert``: a WordPiece tokenizer with ``[CLS]``/``[SEP]``, saved without its MLM head (as a
  sentence-embedding checkpoint is), so transformers initialises that head at random on load;
- ``gguf``: a llama written to one ``.gguf`` file with llama.cpp's tensor names and q/k layout,
  and a tokenizer stored as GGUF metadata.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from polytests.engine.models.loading import EMBEDDED_MODEL_DIR

D_MODEL, N_LAYERS, N_HEADS, D_MLP, N_CTX = 32, 2, 4, 64, 48
DECODERS = ("gpt2", "neox", "llama", "gguf")
FAMILIES = (*DECODERS, "bert")


def _embedded_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(EMBEDDED_MODEL_DIR))


def write_gpt2(directory: Path, seed: int = 1) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = _embedded_tokenizer()
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=N_CTX, n_embd=D_MODEL, n_layer=N_LAYERS,
                        n_head=N_HEADS, n_inner=D_MLP, bos_token_id=0, eos_token_id=0)
    GPT2LMHeadModel(config).eval().save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory


def write_neox(directory: Path, seed: int = 2) -> Path:
    """A GPT-NeoX (Pythia) whose tokenizer names no BOS nor EOS: the start token comes from the config."""
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    config = GPTNeoXConfig(vocab_size=len(_embedded_tokenizer()), max_position_embeddings=N_CTX, hidden_size=D_MODEL,
                           num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS, intermediate_size=D_MLP,
                           rotary_pct=0.5, bos_token_id=0, eos_token_id=0)
    GPTNeoXForCausalLM(config).eval().save_pretrained(str(directory))
    bare = PreTrainedTokenizerFast(tokenizer_file=str(EMBEDDED_MODEL_DIR / "tokenizer.json"))
    bare.model_max_length = 10**6
    bare.save_pretrained(str(directory))
    return directory


def write_llama(directory: Path, seed: int = 3) -> Path:
    """A Llama whose tokenizer adds its own ``<s>`` (a token the embedded vocabulary lacks) before a text."""
    import torch
    from tokenizers import Tokenizer, processors
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    backend = Tokenizer.from_file(str(EMBEDDED_MODEL_DIR / "tokenizer.json"))
    backend.add_special_tokens(["<s>"])
    start = backend.token_to_id("<s>")
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", start)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="<|endoftext|>")
    tokenizer.model_max_length = 10**6
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=N_CTX, hidden_size=D_MODEL,
                         num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS, num_key_value_heads=2,
                         intermediate_size=D_MLP, bos_token_id=start, eos_token_id=0, tie_word_embeddings=False)
    LlamaForCausalLM(config).eval().save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory


def write_bert(directory: Path, corpora_root: Path, seed: int = 4) -> Path:
    """A BERT encoder saved without its MLM head, with a WordPiece tokenizer trained on the corpora."""
    import torch
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from polytests.corpora import load_corpora

    texts = [d.text for c in load_corpora(corpora_root).values() for d in c.documents]
    backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    backend.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], show_progress=False))
    cls, sep = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tokenizer = BertTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                                  cls_token="[CLS]", mask_token="[MASK]")
    tokenizer.model_max_length = N_CTX
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=N_CTX, hidden_size=D_MODEL,
                        num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS, intermediate_size=D_MLP)
    BertModel(config).eval().save_pretrained(str(directory))  # no MLM head on disk
    tokenizer.save_pretrained(str(directory))
    return directory


def _llama_cpp_permute(weight, n_head: int):
    """llama.cpp's q/k row order (convert_hf_to_gguf.py's ``permute``); transformers undoes it on load."""
    return weight.reshape(n_head, 2, weight.shape[0] // n_head // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(
        weight.shape)


def write_gguf(path: Path, seed: int = 5, quantization: str | None = None, permute: bool = True) -> tuple[Path, object]:
    """A tiny llama written to ``path`` as GGUF; returns (path, the transformers model it was written from).

    ``quantization`` ("Q8_0") stores the 2-D weights quantized; ``permute=False`` writes q/k in
    transformers' order (a wrong file, which the loading test must catch).
    """
    import gguf
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    vocab = json.loads((EMBEDDED_MODEL_DIR / "tokenizer.json").read_text(encoding="utf-8"))["model"]
    tokens = [token for token, _ in sorted(vocab["vocab"].items(), key=lambda kv: kv[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in vocab["merges"]]
    torch.manual_seed(seed)
    n_kv = 2
    config = LlamaConfig(vocab_size=len(tokens), max_position_embeddings=N_CTX, hidden_size=D_MODEL,
                         num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS, num_key_value_heads=n_kv,
                         intermediate_size=D_MLP, bos_token_id=0, eos_token_id=0, tie_word_embeddings=False)
    model = LlamaForCausalLM(config).eval()
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-llama-gguf")
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(D_MODEL)
    writer.add_block_count(N_LAYERS)
    writer.add_feed_forward_length(D_MLP)
    writer.add_head_count(N_HEADS)
    writer.add_head_count_kv(n_kv)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]))
    writer.add_rope_dimension_count(D_MODEL // N_HEADS)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_merges(merges)
    writer.add_token_types([int(gguf.TokenType.CONTROL) if t == "<|endoftext|>" else int(gguf.TokenType.NORMAL)
                            for t in tokens])
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(0)

    def add(name: str, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array, dtype=np.float32)
        if quantization and array.ndim == 2:
            kind = getattr(gguf.GGMLQuantizationType, quantization)
            writer.add_tensor(name, gguf.quants.quantize(array, kind), raw_dtype=kind)
        else:
            writer.add_tensor(name, array)

    maybe = (lambda w, n: _llama_cpp_permute(w, n)) if permute else (lambda w, n: w)
    add("token_embd.weight", sd["model.embed_tokens.weight"])
    for layer in range(N_LAYERS):
        p = f"model.layers.{layer}."
        add(f"blk.{layer}.attn_norm.weight", sd[p + "input_layernorm.weight"])
        add(f"blk.{layer}.attn_q.weight", maybe(sd[p + "self_attn.q_proj.weight"], N_HEADS))
        add(f"blk.{layer}.attn_k.weight", maybe(sd[p + "self_attn.k_proj.weight"], n_kv))
        add(f"blk.{layer}.attn_v.weight", sd[p + "self_attn.v_proj.weight"])
        add(f"blk.{layer}.attn_output.weight", sd[p + "self_attn.o_proj.weight"])
        add(f"blk.{layer}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"])
        add(f"blk.{layer}.ffn_gate.weight", sd[p + "mlp.gate_proj.weight"])
        add(f"blk.{layer}.ffn_up.weight", sd[p + "mlp.up_proj.weight"])
        add(f"blk.{layer}.ffn_down.weight", sd[p + "mlp.down_proj.weight"])
    add("output_norm.weight", sd["model.norm.weight"])
    add("output.weight", sd["lm_head.weight"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path, model


def write_families(root: Path, corpora_root: Path) -> dict[str, Path]:
    """Every family under ``root``: {family: the spec a user would pass (a folder, or the .gguf file)}."""
    paths = {
        "gpt2": write_gpt2(root / "gpt2"),
        "neox": write_neox(root / "neox"),
        "llama": write_llama(root / "llama"),
        "bert": write_bert(root / "bert", corpora_root),
        "gguf": write_gguf(root / "gguf" / "tiny-llama.gguf")[0],
    }
    return paths


def mlp_output_projection(hf_model, family: str, layer: int):
    """The module whose input is ``blocks.{layer}.mlp.hook_post`` in plain transformers."""
    if family == "gpt2":
        return hf_model.transformer.h[layer].mlp.c_proj
    if family == "neox":
        return hf_model.gpt_neox.layers[layer].mlp.dense_4h_to_h
    if family in ("llama", "gguf"):
        return hf_model.model.layers[layer].mlp.down_proj
    if family == "bert":
        return hf_model.encoder.layer[layer].output.dense
    raise ValueError(family)
