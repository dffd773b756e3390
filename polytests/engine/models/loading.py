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

import os
import re
from pathlib import Path
from typing import Any

from polytests.engine.models.layouts import defer_native, load_gguf, load_hf, load_legacy
from polytests.engine.models.loaded import (
    DeferredModel,
    resolve_device,
    EMBEDDED_MODEL_DIR,
    SOLU_ALIASES,
    LoadedModel,
    read_config,
)
from polytests.errors import ModelLoadError, ModelWeightsAbsent


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
            return load_gguf(ggufs[0], spec, hub_id, resolve_device(device))
        if len(ggufs) > 1:
            raise ModelLoadError(f"{spec}: {directory} holds {len(ggufs)} GGUF files "
                                 f"({', '.join(p.name for p in ggufs[:4])}). Fix: pass the path of the one to use")
    config = read_config(directory, spec)
    if "polytests_format" in config:
        return defer_native(directory, config, spec, hub_id or _display_name(directory, config, "native"), device)
    elif "model_type" in config:
        loaded = load_hf(directory, config, spec, hub_id or _display_name(directory, config, "huggingface"),
                         resolve_device(device))
    else:
        name = hub_id or _display_name(directory, config, "legacy")
        loaded = load_legacy(directory, config, spec, name)
    loaded.extra.setdefault("directory", str(directory))  # where a shipped reference.jsonl is looked for
    return loaded


def load_model(spec: str | os.PathLike = "embedded", *, device: str | None = None,
               root: str | os.PathLike | None = None) -> LoadedModel:
    """Boot the model named by ``spec`` (see the module docstring) on ``device`` (None: the CPU;
    ``"auto"``: CUDA when present). A relative path is read from ``root`` first, then the cwd.
    A polytests-native model is returned deferred (:class:`DeferredModel`): known by its files,
    booted on first use, on the device resolved then."""
    spec_text = str(spec)
    local = next((p for p in _local_candidates(spec_text, root) if p.exists()), None)
    if spec_text == "embedded":
        directory = EMBEDDED_MODEL_DIR
        if not (directory / "model.safetensors").is_file():
            raise ModelLoadError(
                f"the embedded model is missing from {directory}. Fix: run `polytests train-model`"
            )
        config = read_config(directory, spec_text)
        return defer_native(directory, config, spec_text, "polytests-embedded-solu-4l", device)
    if local is not None and local.is_file():
        if local.suffix.lower() != ".gguf":
            raise ModelLoadError(f"model {spec_text} is a file, not a .gguf file nor a folder. Fix: pass the folder "
                                 "that holds config.json, or a .gguf file")
        loaded = load_gguf(local.resolve(), spec_text, None, resolve_device(device))
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
            message = (f"model {spec_text!r} is neither 'embedded', an existing folder or .gguf file, a hub id "
                       f"(owner/name) nor a known alias ({', '.join(SOLU_ALIASES)}), and no model of that name is "
                       f"in the local Hugging Face cache ({_hf_cache_dir()}); polytests never downloads at run "
                       "time.")
            if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec_text):
                # A bare hub name (gpt2): like an owner/name id whose weights are absent, the claim is
                # skipped, not failed, and the fix names the download command.
                raise ModelWeightsAbsent(
                    f"{message} Fix: on a machine with network run `hf download {spec_text}` (into the cache), "
                    "or pass another form (docs/models.md lists every form)") from None
            raise ModelLoadError(f"{message} Fix: pass one of those (docs/models.md lists every form)") from None
        loaded = _load_directory(directory, spec_text, device, hub_id=spec_text)
    device = resolve_device(device) if not isinstance(loaded, DeferredModel) else None
    if device is not None and device != "cpu":
        loaded.bridge.to(device)
    return loaded
