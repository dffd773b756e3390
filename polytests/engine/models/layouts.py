"""The layouts a model folder can have on disk, each booted into a TransformerBridge:
polytests-native, legacy TransformerLens, Hugging Face, and GGUF (see :mod:`.loading`)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

from polytests.engine.models.loaded import (
    DeferredModel,
    NATIVE_CONFIG_FIELDS,
    NATIVE_OPTIONAL_FIELDS,
    LoadedModel,
    files_digest,
    import_bridge,
    load_tokenizer,
    model_input_format,
    resolve_device,
    state_dict_digest,
)
from polytests.errors import ModelLoadError


def _check_native(directory: Path, config: dict, spec: str) -> Path:
    """The weight file of a native model, after checking it is whole and config.json has every field."""
    weights = directory / "model.safetensors"
    if not weights.is_file():
        raise ModelLoadError(
            f"{spec}: {weights} is missing. Fix: run `polytests train-model` to write it"
        )
    missing = [k for k in NATIVE_CONFIG_FIELDS if k not in config]
    if missing:
        raise ModelLoadError(f"{directory / 'config.json'}: missing fields {missing}")
    check_safetensors(weights, spec, "copy it again from where it came, or rebuild it with `polytests train-model`")
    return weights


def defer_native(directory: Path, config: dict, spec: str, name: str, device: str | None = None) -> DeferredModel:
    """A native model known by its files (identity and shape), booted by :func:`load_native` on first use."""
    weights = _check_native(directory, config, spec)

    def boot() -> LoadedModel:
        loaded = load_native(directory, config, spec, name)
        resolved = resolve_device(device)
        if resolved is not None and resolved != "cpu":
            loaded.bridge.to(resolved)
        return loaded

    return DeferredModel(directory, config, name, weights, boot,
                         {"form": "native", "architecture": "TransformerLensNative", "directory": str(directory)})


def load_native(directory: Path, config: dict, spec: str, name: str) -> LoadedModel:
    from safetensors.torch import load_file

    weights = _check_native(directory, config, spec)
    TransformerBridge, TransformerBridgeConfig = import_bridge()
    optional = {k: config[k] for k in NATIVE_OPTIONAL_FIELDS if k in config}
    cfg = TransformerBridgeConfig(**{k: config[k] for k in NATIVE_CONFIG_FIELDS}, **optional)
    tokenizer = load_tokenizer(directory, None, spec)
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


def load_legacy(directory: Path, config: dict, spec: str, name: str) -> LoadedModel:
    import torch
    from transformer_lens.utilities.tl_checkpoint_conversion import (
        convert_tl_checkpoint,
    )

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
    tokenizer = load_tokenizer(directory, config.get("tokenizer_name"), spec)
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


def check_safetensors(path: Path, spec: str, refetch: str) -> None:
    """Raise a ModelLoadError naming ``path`` when it is not a whole safetensors file: its header
    (an 8-byte length, then JSON giving every tensor's byte range) must parse and the file must
    hold every byte the header promises. A truncated download otherwise surfaces as an error about
    architecture support or tensor shapes. ``refetch``: the fix that fetches it again."""
    import json
    import struct

    size = path.stat().st_size
    why = None
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                why = f"{size} bytes, shorter than a safetensors header"
            else:
                (n,) = struct.unpack("<Q", head)
                if n > size - 8:
                    why = f"its header claims {n:,} bytes of JSON, the file holds {size:,} bytes in all"
                else:
                    header = json.loads(handle.read(n))
                    end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"),
                              default=0)
                    if 8 + n + end > size:
                        why = f"its tensors end at byte {8 + n + end:,}, the file stops at {size:,}"
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        why = f"its header does not parse ({exc.__class__.__name__})"
    if why:
        raise ModelLoadError(f"{spec}: {path} is damaged: {why} (a truncated or interrupted download?). "
                             f"Fix: {refetch}")


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


def load_hf(directory: Path, config: dict, spec: str, name: str, device: str | None) -> LoadedModel:
    from transformers import AutoTokenizer

    weight_files = _hf_weight_files(directory)
    if not weight_files:
        raise ModelLoadError(
            f"{spec}: Hugging Face config in {directory} but no weights. Looked for: "
            "*.safetensors, *.bin. Fix: download the model files into that folder "
            "(`hf download REPO --local-dir DIR`)"
        )
    for path in weight_files:
        if path.suffix == ".safetensors":
            check_safetensors(path, spec, f"fetch it again (`hf download REPO --local-dir {directory}`, or copy "
                                          "the file again from where it came)")
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


def load_gguf(path: Path, spec: str, name: str | None, device: str | None) -> LoadedModel:
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
