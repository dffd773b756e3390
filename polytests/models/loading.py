"""Turn a model spec into a ready ``TransformerBridge`` plus what later layers need.

Specs understood by :func:`load_model`:

- ``"embedded"``: the small SoLU model shipped inside polytests.
- a local directory in one of three layouts, detected from its files:
  * polytests-native: ``config.json`` with a ``polytests_format`` key and
    ``model.safetensors`` (what ``polytests train-model`` writes);
  * legacy TransformerLens: a ``config.json`` without ``model_type`` and a
    ``*final.pth`` state dict (a downloaded ``NeelNanda/SoLU_4L512W_C4_Code``);
  * Hugging Face: ``config.json`` with ``model_type`` (booted with
    ``TransformerBridge.boot_transformers``).
- an alias such as ``solu-4l`` or a repo id such as ``NeelNanda/SoLU_4L512W_C4_Code``,
  resolved only from the local Hugging Face cache: nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polytests.errors import ModelLoadError

EMBEDDED_MODEL_DIR = Path(__file__).resolve().parent.parent / "embedded" / "solu-4l"
POLYTESTS_FORMAT = "polytests-native/1"

# The SoLU family from TransformerLens' legacy model table.
SOLU_ALIASES: dict[str, str] = {
    "solu-1l": "NeelNanda/SoLU_1L512W_C4_Code",
    "solu-2l": "NeelNanda/SoLU_2L512W_C4_Code",
    "solu-3l": "NeelNanda/SoLU_3L512W_C4_Code",
    "solu-4l": "NeelNanda/SoLU_4L512W_C4_Code",
    "solu-6l": "NeelNanda/SoLU_6L768W_C4_Code",
    "solu-8l": "NeelNanda/SoLU_8L1024W_C4_Code",
    "solu-10l": "NeelNanda/SoLU_10L1280W_C4_Code",
    "solu-12l": "NeelNanda/SoLU_12L1536W_C4_Code",
}
# Config fields of a native bridge that a polytests-native config.json carries.
NATIVE_CONFIG_FIELDS = (
    "d_model", "n_layers", "d_mlp", "d_head", "n_heads", "n_ctx", "d_vocab",
    "act_fn", "normalization_type", "positional_embedding_type",
)
NATIVE_OPTIONAL_FIELDS = ("attention_dir",)


@dataclass
class LoadedModel:
    """A booted model and the facts about it that activations and reports need."""

    bridge: Any
    name: str
    digest: str
    source: str
    tokenizer: Any
    extra: dict = field(default_factory=dict)

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
    def bos_token_id(self) -> int | None:
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


def _import_bridge():
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
            raise ModelLoadError(
                f"{spec}: no tokenizer in {directory} and tokenizer {fallback_name!r} is not in "
                f"the local Hugging Face cache ({exc.__class__.__name__}). Fix: on a machine with "
                f"network, run `huggingface-cli download {fallback_name}` (or save the tokenizer "
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
            "HF weights (model.safetensors / pytorch_model.bin). Fix: point the spec at the "
            "folder that holds them"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path}: not valid JSON ({exc})") from exc


def _load_native(directory: Path, config: dict, spec: str, name: str) -> LoadedModel:
    from safetensors.torch import load_file

    TransformerBridge, TransformerBridgeConfig = _import_bridge()
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
    return LoadedModel(bridge, name, state_dict_digest(state_dict), str(directory), tokenizer)


def _legacy_bridge_config(config: dict):
    _, TransformerBridgeConfig = _import_bridge()
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

    TransformerBridge, _ = _import_bridge()
    candidates = sorted(directory.glob("*final.pth"))
    if not candidates:
        raise ModelLoadError(
            f"{spec}: legacy TransformerLens layout (config.json without model_type) but no "
            f"'*final.pth' in {directory}. Looked for: {directory}/*final.pth. Fix: download the "
            "checkpoint (e.g. `huggingface-cli download NeelNanda/SoLU_4L512W_C4_Code "
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
    return LoadedModel(bridge, name, digest, str(directory), tokenizer)


def _load_hf(directory: Path, spec: str, name: str) -> LoadedModel:
    TransformerBridge, _ = _import_bridge()
    weight_files = [p for pattern in ("*.safetensors", "*.bin") for p in directory.glob(pattern)]
    if not weight_files:
        raise ModelLoadError(
            f"{spec}: Hugging Face config in {directory} but no weights. Looked for: "
            "*.safetensors, *.bin. Fix: download the model files into that folder"
        )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        bridge = TransformerBridge.boot_transformers(str(directory))
    except Exception as exc:
        raise ModelLoadError(f"{spec}: TransformerLens could not boot {directory}: {exc}") from exc
    bridge.eval()
    digest = state_dict_digest(bridge.state_dict())
    return LoadedModel(bridge, name, digest, str(directory), bridge.tokenizer)


def _hf_cache_dir() -> str:
    """The Hugging Face hub cache, read from the environment at call time."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return os.path.join(home, "hub")


def _resolve_from_hf_cache(repo_id: str, spec: str) -> Path:
    from huggingface_hub import snapshot_download

    cache_dir = _hf_cache_dir()
    try:
        return Path(snapshot_download(repo_id, local_files_only=True, cache_dir=cache_dir))
    except Exception as exc:  # huggingface_hub raises several error types for a missing entry
        raise ModelLoadError(
            f"{spec}: weights for {repo_id} are not in the local Hugging Face cache and "
            f"polytests never downloads at run time. Looked for: {cache_dir}/models--"
            f"{repo_id.replace('/', '--')} (config.json, *final.pth). Fix: on a machine with network run "
            f"`huggingface-cli download {repo_id} --local-dir DIR` and pass DIR as the model"
        ) from exc


def _looks_like_path(spec: str) -> bool:
    """A Hugging Face repo id is ``owner/name``; anything else with a separator is a path."""
    return spec.startswith(("/", ".", "~")) or spec.count("/") > 1 or "\\" in spec


def load_model(spec: str | os.PathLike = "embedded", *, device: str | None = None) -> LoadedModel:
    """Boot the model named by ``spec`` (see the module docstring) on ``device``."""
    spec_text = str(spec)
    if spec_text == "embedded":
        directory, name = EMBEDDED_MODEL_DIR, "polytests-embedded-solu-4l"
        if not (directory / "model.safetensors").is_file():
            raise ModelLoadError(
                f"the embedded model is missing from {directory}. Fix: run `polytests train-model`"
            )
    elif Path(spec_text).expanduser().is_dir():
        directory = Path(spec_text).expanduser().resolve()
        name = directory.name
    elif _looks_like_path(spec_text):
        raise ModelLoadError(
            f"model directory {spec_text} does not exist. Fix: pass an existing directory, "
            f"'embedded', or an alias ({', '.join(SOLU_ALIASES)})"
        )
    elif spec_text.lower() in SOLU_ALIASES or spec_text.count("/") == 1:
        repo_id = SOLU_ALIASES.get(spec_text.lower(), spec_text)
        directory, name = _resolve_from_hf_cache(repo_id, spec_text), repo_id
    else:
        raise ModelLoadError(
            f"model {spec_text!r} is neither 'embedded', an existing directory, nor a known "
            f"alias ({', '.join(SOLU_ALIASES)}). Fix: pass one of those"
        )
    config = _read_config(directory, spec_text)
    if "polytests_format" in config:
        loaded = _load_native(directory, config, spec_text, name)
    elif "model_type" in config:
        loaded = _load_hf(directory, spec_text, name)
    else:
        loaded = _load_legacy(directory, config, spec_text, name)
    if device is not None:
        loaded.bridge.to(device)
    return loaded
