"""A loaded model and its identity: the ``LoadedModel`` every layer above receives, the digests
that name its weights, its tokenizer and config as read from disk, and the special tokens that
wrap each window (its input format)."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polytests.engine.tokenization import InputFormat
from polytests.errors import ModelLoadError, ModelWeightsAbsent

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


def resolve_device(device: str | None) -> str | None:
    """``"auto"``: CUDA when torch sees a GPU, else the CPU; anything else unchanged."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


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
    # Importing the sources registers boot_native / boot_transformers.
    import transformer_lens.model_bridge.sources.native  # noqa: F401
    import transformer_lens.model_bridge.sources.transformers  # noqa: F401
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge

    return TransformerBridge, TransformerBridgeConfig


def load_tokenizer(directory: Path, fallback_name: str | None, spec: str) -> Any:
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


def read_config(directory: Path, spec: str) -> dict:
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


# safetensors dtype codes -> the str(torch dtype) state_dict_digest hashes
_SAFETENSORS_DTYPES = {
    "F64": "torch.float64", "F32": "torch.float32", "F16": "torch.float16", "BF16": "torch.bfloat16",
    "I64": "torch.int64", "I32": "torch.int32", "I16": "torch.int16", "I8": "torch.int8", "U8": "torch.uint8",
    "BOOL": "torch.bool",
}


@functools.lru_cache(maxsize=16)
def _safetensors_digest(path: str, size: int, mtime_ns: int) -> str:
    import struct

    h = hashlib.sha256()
    with open(path, "rb") as handle:
        (n,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(n))
        base = 8 + n
        for key in sorted(k for k in header if k != "__metadata__"):
            entry = header[key]
            begin, end = (int(v) for v in entry["data_offsets"])
            h.update(key.encode())
            h.update(_SAFETENSORS_DTYPES[entry["dtype"]].encode())
            h.update(str(tuple(int(d) for d in entry["shape"])).encode())
            handle.seek(base + begin)
            h.update(handle.read(end - begin))
    return h.hexdigest()


def safetensors_digest(path: str | Path) -> str:
    """:func:`state_dict_digest` of the tensors in a safetensors file, read from its bytes without
    torch (the header gives each tensor's dtype, shape and byte range; the bytes are the tensor's
    little-endian memory, which is what ``view(torch.uint8)`` hashes). Equal by test."""
    path = Path(path).resolve()
    stat = path.stat()
    return _safetensors_digest(str(path), stat.st_size, stat.st_mtime_ns)


class DeferredModel:
    """A polytests-native model known by its files, booted on first use.

    Its identity (``name``, ``digest``, ``source``, ``extra``) and shape (``n_layers``, ``d_mlp``,
    ``n_ctx``, ``act_fn``, the activation sites) come from ``config.json`` and the weight file's
    bytes, so a run whose every result is cached never imports torch or TransformerLens nor boots
    the model. Anything else (``bridge``, ``tokenizer``, ``input_format``, ...) boots it once
    through ``boot`` and is read from the :class:`LoadedModel` that returns; its digest must be the
    one computed from the file (else the file changed under the run: an error, not a wrong key).
    """

    def __init__(self, directory: Path, config: dict, name: str, weights: Path, boot, extra: dict):
        self.name = name
        self.source = str(directory)
        self.digest = safetensors_digest(weights)
        self.extra = dict(extra)
        self._config = config
        self._boot = boot
        self._loaded: LoadedModel | None = None

    @property
    def booted(self) -> bool:
        return self._loaded is not None

    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            loaded = self._boot()
            if loaded.digest != self.digest:
                raise ModelLoadError(f"{self.source}: the weights changed on disk while the run was using them "
                                     f"(digest {self.digest[:12]} at start, {loaded.digest[:12]} now). Fix: run again")
            loaded.extra.update(self.extra)
            self._loaded = loaded
        return self._loaded

    def __getattr__(self, attr: str):
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.loaded(), attr)

    n_layers = property(lambda self: int(self._config["n_layers"]))
    d_mlp = property(lambda self: int(self._config["d_mlp"]))
    n_ctx = property(lambda self: int(self._config["n_ctx"]))
    act_fn = property(lambda self: str(self._config.get("act_fn") or ""))
    is_solu_ln = LoadedModel.is_solu_ln
    form = LoadedModel.form
    activation_site = LoadedModel.activation_site
    ablation_site = LoadedModel.ablation_site

    @property
    def is_causal_lm(self) -> bool:
        if self._loaded is not None:
            return self._loaded.is_causal_lm
        return self._config.get("attention_dir", "causal") == "causal"
