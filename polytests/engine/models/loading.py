"""Turn a model spec into a ready ``TransformerBridge`` plus what later layers need.

Specs understood by :func:`load_model` (docs/models.md lists the command for each):

- ``"embedded"``: the small SoLU model shipped inside polytests.
- a local path (relative paths are paths, read from the project root, then the working
  directory), in one of these layouts, detected from its files:
  * polytests-native: ``config.json`` with a ``polytests_format`` key and
    ``model.safetensors`` (what ``polytests train-model`` writes);
  * legacy TransformerLens: a ``config.json`` without ``model_type`` and a
    ``*final.pth`` state dict (a downloaded ``NeelNanda/SoLU_4L512W_C4_Code``);
  * Hugging Face: ``config.json`` with ``model_type`` (booted with
    ``TransformerBridge.boot_transformers``);
  * a ``.gguf`` file, or a folder holding exactly one: dequantized to float32 by
    transformers (which needs the ``gguf`` package) and booted from memory.
- an alias such as ``solu-4l`` or ``gelu-2l``, or a hub id such as ``EleutherAI/pythia-70m`` (or a
  bare one such as ``gpt2``), resolved only from the local Hugging Face cache: nothing here
  touches the network.

Every model carries a stable identity (``digest``): the digest of the weight files on
disk for Hugging Face and GGUF models (a head that transformers initialises at random,
as for an encoder saved without its MLM head, never enters it), and of the tensors read
from the checkpoint for native and legacy models. Its ``input_format`` says which special
tokens wrap each window, read from the model's own tokenizer and config.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polytests.errors import ModelLoadError, ModelWeightsAbsent
from polytests.engine.tokenization import InputFormat

EMBEDDED_MODEL_DIR = Path(__file__).resolve().parents[2] / "embedded" / "solu-4l"
POLYTESTS_FORMAT = "polytests-native/1"

# The SoLU and GELU families from TransformerLens' legacy model table (supported_models.py).
SOLU_ALIASES: dict[str, str] = {
    "solu-1l": "NeelNanda/SoLU_1L512W_C4_Code",
    "solu-2l": "NeelNanda/SoLU_2L512W_C4_Code",
    "solu-3l": "NeelNanda/SoLU_3L512W_C4_Code",
    "solu-4l": "NeelNanda/SoLU_4L512W_C4_Code",
    "solu-6l": "NeelNanda/SoLU_6L768W_C4_Code",
    "solu-8l": "NeelNanda/SoLU_8L1024W_C4_Code",
    "solu-10l": "NeelNanda/SoLU_10L1280W_C4_Code",
    "solu-12l": "NeelNanda/SoLU_12L1536W_C4_Code",
    "solu-1l-pile": "NeelNanda/SoLU_1L_v9_old",
    "solu-2l-pile": "NeelNanda/SoLU_2L_v10_old",
    "solu-4l-pile": "NeelNanda/SoLU_4L_v11_old",
    "solu-6l-pile": "NeelNanda/SoLU_6L_v13_old",
    "solu-8l-pile": "NeelNanda/SoLU_8L_v21_old",
    "solu-10l-pile": "NeelNanda/SoLU_10L_v22_old",
    "solu-12l-pile": "NeelNanda/SoLU_12L_v23_old",
    "gelu-1l": "NeelNanda/GELU_1L512W_C4_Code",
    "gelu-2l": "NeelNanda/GELU_2L512W_C4_Code",
    "gelu-3l": "NeelNanda/GELU_3L512W_C4_Code",
    "gelu-4l": "NeelNanda/GELU_4L512W_C4_Code",
}
# Config fields of a native bridge that a polytests-native config.json carries.
NATIVE_CONFIG_FIELDS = (
    "d_model", "n_layers", "d_mlp", "d_head", "n_heads", "n_ctx", "d_vocab",
    "act_fn", "normalization_type", "positional_embedding_type",
)
NATIVE_OPTIONAL_FIELDS = ("attention_dir",)


@dataclass
class LoadedModel:
    """A booted model and the facts about it that activations and reports need.

    ``digest`` is the model's identity (stores and caches are keyed by it, never by
    ``name``, which is for people); ``inputs`` is its input format (None: one BOS from
    the tokenizer before each window, the default for decoders built in tests);
    ``extra["form"]`` says which layout it was loaded from.
    """

    bridge: Any
    name: str
    digest: str
    source: str
    tokenizer: Any
    extra: dict = field(default_factory=dict)
    inputs: InputFormat | None = None

    @property
    def cfg(self) -> Any:
        return self.bridge.cfg

    @property
    def n_layers(self) -> int:
        return int(self.cfg.n_layers)

    @property
    def d_mlp(self) -> int:
        return int(self.cfg.d_mlp)

    @property
    def n_ctx(self) -> int:
        return int(self.cfg.n_ctx)

    @property
    def act_fn(self) -> str:
        return str(self.cfg.act_fn or "")

    @property
    def is_solu_ln(self) -> bool:
        return self.act_fn.lower() == "solu_ln"

    @property
    def is_causal_lm(self) -> bool:
        causal = getattr(self.cfg, "attention_dir", "causal") == "causal"
        adapter = getattr(self.bridge, "adapter", None)
        return causal and bool(getattr(adapter, "supports_causal_loss", True))

    @property
    def form(self) -> str:
        """The layout the model came from: native, legacy, huggingface or gguf."""
        return str(self.extra.get("form", "native"))

    @property
    def input_format(self) -> InputFormat:
        """The special tokens around each window, the context and the padding (see tokenization)."""
        if self.inputs is not None:
            return self.inputs
        bos = getattr(self.tokenizer, "bos_token_id", None)
        if bos is None:
            raise ModelLoadError(f"{self.name}: the tokenizer has no BOS token to start each window with")
        return InputFormat((int(bos),), self.n_ctx)

    @property
    def bos_token_id(self) -> int | None:
        """The token each window starts with (a decoder's BOS, an encoder's [CLS])."""
        if self.inputs is not None:
            return self.inputs.prefix[0] if self.inputs.prefix else None
        return getattr(self.tokenizer, "bos_token_id", None)

    def activation_site(self, layer: int) -> str:
        """Where neuron activations are read (Neuroscope's convention).

        SoLU-LN: after x*softmax(x), before the MLP's LayerNorm. Others: hook_post.
        """
        if self.is_solu_ln:
            return f"blocks.{layer}.mlp.ln.hook_in"
        return f"blocks.{layer}.mlp.hook_post"

    def ablation_site(self, layer: int) -> str:
        """Where ablations act: after the LayerNorm, so one neuron's ablation
        does not shift the others."""
        return f"blocks.{layer}.mlp.hook_post"


def state_dict_digest(state_dict: dict) -> str:
    """SHA-256 over every tensor (name, dtype, shape, bytes), in key order."""
    import torch

    h = hashlib.sha256()
    for key in sorted(state_dict):
        tensor = state_dict[key]
        if not isinstance(tensor, torch.Tensor):
            continue
        t = tensor.detach().to("cpu").contiguous()
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


@functools.lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of one file, read in 1 MiB blocks; (size, mtime) in the key: a changed file is reread."""
    one = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            one.update(block)
    return one.hexdigest()


def files_digest(paths) -> str:
    """SHA-256 over the bytes of ``paths`` (in file-name order, each with its size). Names are not
    hashed: a renamed copy of the same weights is the same model."""
    h = hashlib.sha256()
    for path in sorted((Path(p) for p in paths), key=lambda p: p.name):
        stat = path.stat()
        h.update(f"{stat.st_size}:{_file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)}\n".encode())
    return h.hexdigest()


def import_bridge():
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge

    # Importing the sources registers boot_native / boot_transformers.
    import transformer_lens.model_bridge.sources.native  # noqa: F401
    import transformer_lens.model_bridge.sources.transformers  # noqa: F401

    return TransformerBridge, TransformerBridgeConfig


def _load_tokenizer(directory: Path, fallback_name: str | None, spec: str) -> Any:
    from transformers import AutoTokenizer

    if (directory / "tokenizer.json").is_file() or (directory / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(str(directory))
    if fallback_name:
        try:
            return AutoTokenizer.from_pretrained(fallback_name, local_files_only=True)
        except Exception as exc:  # transformers raises OSError/ValueError variants
            raise ModelWeightsAbsent(
                f"{spec}: no tokenizer in {directory} and tokenizer {fallback_name!r} is not in "
                f"the local Hugging Face cache ({exc.__class__.__name__}). Fix: on a machine with "
                f"network, run `hf download {fallback_name}` (or save the tokenizer "
                f"into {directory} with save_pretrained)"
            ) from exc
    raise ModelLoadError(
        f"{spec}: no tokenizer.json in {directory} and config.json names no tokenizer. "
        "Fix: save the tokenizer into the directory with save_pretrained"
    )


def _read_config(directory: Path, spec: str) -> dict:
    path = directory / "config.json"
    if not path.is_file():
        raise ModelLoadError(
            f"{spec}: {directory} has no config.json. Looked for: config.json plus "
            "model.safetensors (polytests-native), *final.pth (legacy TransformerLens) or "
            "HF weights (model.safetensors / pytorch_model.bin), or one *.gguf file. Fix: point the "
            "spec at the folder that holds them, or at the .gguf file"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path}: not valid JSON ({exc})") from exc


# -- input format ----------------------------------------------------------------------------

def _special_tokens_around(tokenizer) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The ids the tokenizer itself puts before and after a text (its ``add_special_tokens``)."""
    probe = "Hello world"
    try:
        plain = list(tokenizer(probe, add_special_tokens=False)["input_ids"])
        full = list(tokenizer(probe, add_special_tokens=True)["input_ids"])
    except Exception:  # noqa: BLE001 - a tokenizer that cannot say: fall back to its attributes
        return (), ()
    for i in range(len(full) - len(plain) + 1):
        if full[i : i + len(plain)] == plain:
            return tuple(full[:i]), tuple(full[i + len(plain):])
    return (), ()


def _known_id(tokenizer, token_id, vocab_size: int) -> int | None:
    """``token_id`` if it names a real token of the vocabulary (not the unknown token)."""
    if isinstance(token_id, (list, tuple)):
        token_id = token_id[0] if token_id else None
    if token_id is None or not 0 <= int(token_id) < vocab_size:
        return None
    unk = getattr(tokenizer, "unk_token_id", None)
    return None if unk is not None and int(token_id) == int(unk) else int(token_id)


def model_input_format(tokenizer, config: dict, n_ctx: int, vocab_size: int, *, bidirectional: bool,
                       spec: str) -> InputFormat:
    """The tokens around each window, read from the model's own tokenizer and config, never assumed.

    Encoders: what the tokenizer wraps a text in (``[CLS]`` ... ``[SEP]``, ``<s>`` ... ``</s>``), else
    its cls/sep tokens; padding with its pad token, masked. Decoders: the one token the tokenizer
    puts before a text (Llama's ``<s>``), else its BOS, else the config's ``bos_token_id``, else the
    end-of-text token the model saw between training documents (tokenizer, then config).
    """
    before, after = _special_tokens_around(tokenizer)
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 10**6:
        n_ctx = min(n_ctx, limit)
    if bidirectional:
        prefix = before or tuple(t for t in [_known_id(tokenizer, getattr(tokenizer, "cls_token_id", None),
                                                      vocab_size)] if t is not None)
        suffix = after or tuple(t for t in [_known_id(tokenizer, getattr(tokenizer, "sep_token_id", None),
                                                      vocab_size)] if t is not None)
        if not prefix:
            prefix = tuple(t for t in [_known_id(tokenizer, getattr(tokenizer, "bos_token_id", None), vocab_size)]
                           if t is not None)
        pad = _known_id(tokenizer, getattr(tokenizer, "pad_token_id", None), vocab_size)
        pad = pad if pad is not None else (prefix[0] if prefix else 0)
        return InputFormat(prefix, n_ctx, suffix, pad=pad, bidirectional=True)
    if len(before) > 1:
        raise ModelLoadError(
            f"{spec}: the tokenizer puts {len(before)} tokens before every text ({list(before)}); polytests "
            "reads decoders with one start token. Fix: save a tokenizer that adds one (add_bos_token)")
    candidates = [before[0] if before else None, getattr(tokenizer, "bos_token_id", None), config.get("bos_token_id"),
                  getattr(tokenizer, "eos_token_id", None), config.get("eos_token_id")]
    for candidate in candidates:
        token = _known_id(tokenizer, candidate, vocab_size)
        if token is not None:
            return InputFormat((token,), n_ctx)
    raise ModelLoadError(
        f"{spec}: neither the tokenizer nor config.json names a start (BOS) or end-of-text token, so "
        "windows cannot start the way the model saw documents start. Fix: set bos_token in the "
        "tokenizer (save_pretrained) or bos_token_id in config.json")


# -- the layouts ------------------------------------------------------------------------------

def _load_native(directory: Path, config: dict, spec: str, name: str) -> LoadedModel:
    from safetensors.torch import load_file

    TransformerBridge, TransformerBridgeConfig = import_bridge()
    weights = directory / "model.safetensors"
    if not weights.is_file():
        raise ModelLoadError(
            f"{spec}: {weights} is missing. Fix: run `polytests train-model` to write it"
        )
    missing = [k for k in NATIVE_CONFIG_FIELDS if k not in config]
    if missing:
        raise ModelLoadError(f"{directory / 'config.json'}: missing fields {missing}")
    optional = {k: config[k] for k in NATIVE_OPTIONAL_FIELDS if k in config}
    cfg = TransformerBridgeConfig(**{k: config[k] for k in NATIVE_CONFIG_FIELDS}, **optional)
    tokenizer = _load_tokenizer(directory, None, spec)
    bridge = TransformerBridge.boot_native(cfg, tokenizer=tokenizer, model_name=name)
    try:
        state_dict = load_file(str(weights))
    except Exception as exc:  # safetensors raises SafetensorError on corrupt files
        raise ModelLoadError(f"{weights}: unreadable safetensors file ({exc})") from exc
    bridge.load_state_dict(state_dict, strict=True)
    bridge.eval()
    inputs = model_input_format(tokenizer, config, int(cfg.n_ctx), int(cfg.d_vocab), spec=spec,
                                bidirectional=config.get("attention_dir", "causal") == "bidirectional")
    return LoadedModel(bridge, name, state_dict_digest(state_dict), str(directory), tokenizer,
                       {"form": "native", "architecture": "TransformerLensNative"}, inputs)
def _legacy_bridge_config(config: dict):
    _, TransformerBridgeConfig = import_bridge()
    if config.get("shortformer_pos", False):
        raise ModelLoadError("shortformer positional embeddings are not supported by the native bridge")
    cfg = TransformerBridgeConfig(
        d_model=config["d_model"],
        n_layers=config["n_layers"],
        d_mlp=config["d_mlp"],
        d_head=config["d_head"],
        n_heads=config["n_heads"],
        n_ctx=config["n_ctx"],
        d_vocab=config["d_vocab"],
        act_fn=config["act_fn"],
        attn_only=config.get("attn_only", False),
        final_rms=config.get("final_rms", False),
        normalization_type=config.get("normalization", config.get("normalization_type")),
        positional_embedding_type="standard",
        architecture="TransformerLensNative",
    )
    return cfg


def _normalise_old_solu_layout(state_dict: dict, n_layers: int) -> dict:
    """The oldest SoLU checkpoints name norms ``norm`` and store some weights transposed."""
    renamed = {}
    for key, value in state_dict.items():
        key = key.replace("norm", "ln")
        if key.startswith("ln."):
            key = "ln_final." + key[len("ln."):]
        renamed[key] = value
    if n_layers <= 8:
        renamed["pos_embed.W_pos"] = renamed["pos_embed.W_pos"].T
    if n_layers <= 6:
        for key in list(renamed):
            if "W_" in key and "W_pos" not in key:
                renamed[key] = renamed[key].transpose(-2, -1)
    return renamed


def _load_legacy(directory: Path, config: dict, spec: str, name: str) -> LoadedModel:
    import torch
    from transformer_lens.utilities.tl_checkpoint_conversion import convert_tl_checkpoint

    TransformerBridge, _ = import_bridge()
    candidates = sorted(directory.glob("*final.pth"))
    if not candidates:
        raise ModelLoadError(
            f"{spec}: legacy TransformerLens layout (config.json without model_type) but no "
            f"'*final.pth' in {directory}. Looked for: {directory}/*final.pth. Fix: download the "
            "checkpoint (e.g. `hf download NeelNanda/SoLU_4L512W_C4_Code "
            f"--local-dir {directory}`)"
        )
    old_layout = name.endswith("_old") or config.get("architecture") == "neel-solu-old"
    cfg = _legacy_bridge_config(config)
    tokenizer = _load_tokenizer(directory, config.get("tokenizer_name"), spec)
    try:
        state_dict = torch.load(candidates[0], map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelLoadError(f"{candidates[0]}: could not be read as a state dict ({exc})") from exc
    state_dict = {k: v.to(torch.float32) for k, v in state_dict.items()}
    if old_layout or any(k.startswith("norm") or ".norm" in k for k in state_dict):
        state_dict = _normalise_old_solu_layout(state_dict, cfg.n_layers)
    digest = state_dict_digest(state_dict)
    bridge = TransformerBridge.boot_native(cfg, tokenizer=tokenizer, model_name=name)
    converted = convert_tl_checkpoint(state_dict, cfg)
    if "unembed.bias" not in converted:
        # Legacy checkpoints often ship no unembed bias; it is zero by construction.
        converted["unembed.bias"] = torch.zeros(cfg.d_vocab)
    result = bridge.load_state_dict(converted, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("unembed.bias")]
    if missing or result.unexpected_keys:
        raise ModelLoadError(
            f"{candidates[0]}: weights do not match config.json (missing {missing[:5]}, "
            f"unexpected {list(result.unexpected_keys)[:5]})"
        )
    bridge.eval()
    inputs = model_input_format(tokenizer, config, int(cfg.n_ctx), int(cfg.d_vocab), bidirectional=False, spec=spec)
    return LoadedModel(bridge, name, digest, str(directory), tokenizer,
                       {"form": "legacy", "architecture": "TransformerLensNative"}, inputs)


def _hf_weight_files(directory: Path) -> list[Path]:
    """The weight files transformers reads from ``directory``: safetensors if any, else .bin."""
    safetensors = sorted(directory.glob("*.safetensors"))
    return safetensors or sorted(directory.glob("*.bin"))


def _boot_hf(spec: str, name: str, *, path: str | None = None, hf_model=None, tokenizer=None, device=None,
             architecture: str = "?"):
    TransformerBridge, _ = import_bridge()
    # The bridge normalises the tokenizer it is given in place (an encoder's missing BOS becomes
    # '<|endoftext|>', i.e. [UNK]); it gets a copy, polytests reads windows with the original.
    kwargs = {"tokenizer": copy.deepcopy(tokenizer), "device": device or "cpu"}
    if hf_model is not None:
        kwargs["hf_model"] = hf_model
    try:
        return TransformerBridge.boot_transformers(path or name, **kwargs)
    except Exception as exc:  # noqa: BLE001 - TransformerLens raises many kinds; one message names them
        text = str(exc)
        if "Could not determine supported architecture" in text:  # its message lists ~200 names
            raise ModelLoadError(
                f"{spec}: TransformerLens {_tl_version()} has no adapter for this architecture ({architecture}), so "
                "polytests cannot read its neurons. Fix: use a model of a supported family (docs/models.md), "
                "or a TransformerLens release that adds it"
            ) from exc
        first = text.splitlines()[0][:300] if text else ""
        raise ModelLoadError(
            f"{spec}: TransformerLens {_tl_version()} could not boot {path or name} ({architecture}): "
            f"{exc.__class__.__name__}: {first}. Fix: check that its architecture is one TransformerLens "
            "supports (docs/models.md lists the families tested)"
        ) from exc


def _tl_version() -> str:
    import transformer_lens

    return getattr(transformer_lens, "__version__", "4")


def _bridge_facts(bridge) -> tuple[int, int, bool]:
    cfg = bridge.cfg
    return int(cfg.n_ctx), int(cfg.d_vocab), getattr(cfg, "attention_dir", "causal") == "bidirectional"


def _load_hf(directory: Path, config: dict, spec: str, name: str, device: str | None) -> LoadedModel:
    from transformers import AutoTokenizer

    weight_files = _hf_weight_files(directory)
    if not weight_files:
        raise ModelLoadError(
            f"{spec}: Hugging Face config in {directory} but no weights. Looked for: "
            "*.safetensors, *.bin. Fix: download the model files into that folder "
            "(`hf download REPO --local-dir DIR`)"
        )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(directory))
    except Exception as exc:  # noqa: BLE001 - transformers raises OSError/ValueError variants
        raise ModelLoadError(f"{spec}: no usable tokenizer in {directory} ({exc.__class__.__name__}). Fix: save "
                             "the model's tokenizer into the folder (tokenizer.save_pretrained)") from exc
    architecture = ", ".join(config.get("architectures") or []) or f"model_type {config.get('model_type')}"
    bridge = _boot_hf(spec, name, path=str(directory), tokenizer=tokenizer, device=device, architecture=architecture)
    bridge.eval()
    n_ctx, vocab, bidirectional = _bridge_facts(bridge)
    inputs = model_input_format(tokenizer, config, n_ctx, vocab, bidirectional=bidirectional, spec=spec)
    # The files on disk, not bridge.state_dict(): parts transformers initialises at random
    # (an encoder's MLM head) would give every load another digest.
    digest = files_digest([*weight_files, directory / "config.json"])
    return LoadedModel(bridge, name, digest, str(directory), tokenizer,
                       {"form": "huggingface", "architecture": bridge.cfg.architecture}, inputs)


def _gguf_name(path: Path) -> str | None:
    from gguf import GGUFReader

    field_ = GGUFReader(str(path)).fields.get("general.name")
    if field_ is None or not field_.data:
        return None
    return bytes(field_.parts[field_.data[0]]).decode("utf-8", errors="replace") or None


def _load_gguf(path: Path, spec: str, name: str | None, device: str | None) -> LoadedModel:
    import importlib.util

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None:
        raise ModelLoadError(f"{spec}: reading a GGUF file needs the gguf package. Fix: pip install "
                             "'polytests[gguf]' (or pip install gguf)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    name = name or _gguf_name(path) or path.stem
    try:
        # float32: every quantized tensor is dequantized on load (the bridge's hooks need plain tensors).
        hf_model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    except Exception as exc:  # noqa: BLE001 - transformers raises ValueError/KeyError/OSError variants
        raise ModelLoadError(
            f"{spec}: transformers could not read {path} ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}). Fix: check that its architecture is one "
            "transformers reads from GGUF (llama, mistral, qwen2, gpt2, ...), or convert it to a Hugging Face folder"
        ) from exc
    hf_model.eval()
    bridge = _boot_hf(spec, name, hf_model=hf_model, tokenizer=tokenizer, device=device,
                      architecture=type(hf_model).__name__)
    bridge.eval()
    n_ctx, vocab, bidirectional = _bridge_facts(bridge)
    config = {k: getattr(hf_model.config, k, None) for k in ("bos_token_id", "eos_token_id")}
    inputs = model_input_format(tokenizer, config, n_ctx, vocab, bidirectional=bidirectional, spec=spec)
    return LoadedModel(bridge, name, files_digest([path]), str(path), tokenizer,
                       {"form": "gguf", "architecture": bridge.cfg.architecture}, inputs)


# -- resolving a spec -------------------------------------------------------------------------

def _hf_cache_dir() -> str:
    """The Hugging Face hub cache, read from the environment at call time."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return os.path.join(home, "hub")


def _resolve_from_hf_cache(repo_id: str, spec: str, also: str = "") -> Path:
    from huggingface_hub import snapshot_download

    cache_dir = _hf_cache_dir()
    try:
        return Path(snapshot_download(repo_id, local_files_only=True, cache_dir=cache_dir))
    except Exception as exc:  # huggingface_hub raises several error types for a missing entry
        raise ModelWeightsAbsent(
            f"{spec}: weights for {repo_id} are not in the local Hugging Face cache and "
            f"polytests never downloads at run time. Looked for: {cache_dir}/models--"
            f"{repo_id.replace('/', '--')}{also}. Fix: on a machine with network run "
            f"`hf download {repo_id}` (into the cache), or `hf download {repo_id} --local-dir DIR` "
            "and pass DIR as the model"
        ) from exc


def _looks_like_path(spec: str) -> bool:
    """Only ``owner/name`` can be a hub id: anything with a path's marks, or a .gguf name, is a path."""
    return (spec.startswith(("/", ".", "~")) or spec.count("/") > 1 or "\\" in spec or spec.endswith("/")
            or spec.lower().endswith(".gguf"))


def _is_hub_id(value: Any) -> bool:
    return (isinstance(value, str) and value.count("/") == 1 and not _looks_like_path(value)
            and all(part.strip() for part in value.split("/")))


def _local_candidates(spec: str, root: str | os.PathLike | None) -> list[Path]:
    path = Path(spec).expanduser()
    if path.is_absolute() or root is None:
        return [path]
    candidates = {(Path(root) / path).absolute(): None, path.absolute(): None}  # the project root, then the cwd
    return list(candidates)


def _display_name(directory: Path, config: dict, form: str) -> str:
    """A name for people: the hub id the config records, else the type and the folder's last two parts."""
    for key in ("_name_or_path", "name_or_path", "model_name"):
        if _is_hub_id(config.get(key)):
            return config[key]
    kind = config.get("model_type") or ("solu" if str(config.get("act_fn", "")).startswith("solu") else form)
    return f"{kind}:{directory.parent.name}/{directory.name}" if directory.parent.name else f"{kind}:{directory.name}"


def _load_directory(directory: Path, spec: str, device: str | None, hub_id: str | None = None) -> LoadedModel:
    if not (directory / "config.json").is_file():
        ggufs = sorted(directory.glob("*.gguf"))
        if len(ggufs) == 1:
            return _load_gguf(ggufs[0], spec, hub_id, device)
        if len(ggufs) > 1:
            raise ModelLoadError(f"{spec}: {directory} holds {len(ggufs)} GGUF files "
                                 f"({', '.join(p.name for p in ggufs[:4])}). Fix: pass the path of the one to use")
    config = _read_config(directory, spec)
    if "polytests_format" in config:
        loaded = _load_native(directory, config, spec, hub_id or _display_name(directory, config, "native"))
    elif "model_type" in config:
        loaded = _load_hf(directory, config, spec, hub_id or _display_name(directory, config, "huggingface"), device)
    else:
        name = hub_id or _display_name(directory, config, "legacy")
        loaded = _load_legacy(directory, config, spec, name)
    return loaded


def resolve_device(device: str | None) -> str | None:
    """``"auto"``: CUDA when torch sees a GPU, else the CPU; anything else unchanged."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(spec: str | os.PathLike = "embedded", *, device: str | None = None,
               root: str | os.PathLike | None = None) -> LoadedModel:
    """Boot the model named by ``spec`` (see the module docstring) on ``device`` (None: the CPU;
    ``"auto"``: CUDA when present). A relative path is read from ``root`` first, then the cwd."""
    device = resolve_device(device)
    spec_text = str(spec)
    local = next((p for p in _local_candidates(spec_text, root) if p.exists()), None)
    if spec_text == "embedded":
        directory = EMBEDDED_MODEL_DIR
        if not (directory / "model.safetensors").is_file():
            raise ModelLoadError(
                f"the embedded model is missing from {directory}. Fix: run `polytests train-model`"
            )
        config = _read_config(directory, spec_text)
        loaded = _load_native(directory, config, spec_text, "polytests-embedded-solu-4l")
    elif local is not None and local.is_file():
        if local.suffix.lower() != ".gguf":
            raise ModelLoadError(f"model {spec_text} is a file, not a .gguf file nor a folder. Fix: pass the folder "
                                 "that holds config.json, or a .gguf file")
        loaded = _load_gguf(local.resolve(), spec_text, None, device)
    elif local is not None:
        loaded = _load_directory(local.resolve(), spec_text, device)
    elif _looks_like_path(spec_text):
        looked = ", ".join(str(p) for p in _local_candidates(spec_text, root))
        raise ModelLoadError(
            f"model path {spec_text} does not exist (looked at {looked}). Fix: pass an existing folder or "
            ".gguf file, 'embedded', or an alias such as solu-4l (docs/models.md lists every form)"
        )
    elif spec_text.lower() in SOLU_ALIASES or _is_hub_id(spec_text):
        repo_id = SOLU_ALIASES.get(spec_text.lower(), spec_text)
        also = "" if spec_text.lower() in SOLU_ALIASES else (
            f", and no folder {spec_text} (looked at {', '.join(str(p) for p in _local_candidates(spec_text, root))}); "
            f"if you meant a folder, write ./{spec_text}")
        loaded = _load_directory(_resolve_from_hf_cache(repo_id, spec_text, also), spec_text, device, hub_id=repo_id)
    else:
        try:  # a bare hub name such as gpt2, if it is in the cache
            directory = _resolve_from_hf_cache(spec_text, spec_text)
        except ModelWeightsAbsent:
            raise ModelLoadError(
                f"model {spec_text!r} is neither 'embedded', an existing folder or .gguf file, a hub id "
                f"(owner/name) nor a known alias ({', '.join(SOLU_ALIASES)}), and no model of that name is in "
                f"the local Hugging Face cache ({_hf_cache_dir()}). Fix: pass one of those "
                "(docs/models.md lists every form)"
            ) from None
        loaded = _load_directory(directory, spec_text, device, hub_id=spec_text)
    if device is not None and device != "cpu":
        loaded.bridge.to(device)
    return loaded
