"""Convert musicnn 0.1.0's TensorFlow 1 checkpoints to safetensors, with numpy only.

musicnn (Pons & Serra 2019, ISC licence, copyright MTG-UPF 2019) ships its trained
models inside its wheel as TF1 checkpoints: a ``.index`` file (a LevelDB-style sorted
string table whose values are ``BundleEntryProto`` protobuf messages: dtype, shape,
shard, offset, size, crc32c) and a ``.data-00000-of-00001`` file holding the raw
little-endian tensor bytes. This script reads both with a ~100-line reader below (no
TensorFlow, no protobuf package), keeps the values inference needs (weights, biases,
batch-norm gamma/beta *and* moving mean/variance), drops the Adam optimiser slots and
the step counter, renames the tensors to :class:`musicgenre.models.musicnn.Musicnn`'s
``state_dict`` keys (transposing TF's HWIO kernels to PyTorch's OIHW) and writes one
float32 safetensors file per model.

Why safetensors: the file is a JSON header plus raw tensor bytes, so loading it never
unpickles (no code can run from a tampered file, unlike ``torch.load`` of a pickle),
it can be memory-mapped, and it is the format Hugging Face and timm users already know.

Usage (run once, from the repository root; the wheel comes from PyPI)::

    pip download --no-deps musicnn==0.1.0 -d /tmp/musicnn_wheel
    python scripts/convert_musicnn.py /tmp/musicnn_wheel/musicnn-0.1.0-py3-none-any.whl

It writes ``src/musicgenre/models/weights/{MSD_musicnn,MTT_musicnn}.safetensors``,
``LICENSE-musicnn.md`` (musicnn's licence text, copied from the wheel) and
``PROVENANCE.json`` (source package and version, sha256 of the wheel and of every
source checkpoint file, this script's path, the date and each model's tag list).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import re
import struct
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

__all__ = ["BundleEntry", "convert", "main", "musicnn_state_dict", "read_bundle", "read_index"]

MODELS = ("MSD_musicnn", "MTT_musicnn")
SOURCE_PACKAGE = "musicnn"
SOURCE_VERSION = "0.1.0"
OUT_DIR = Path("src/musicgenre/models/weights")
_MAGIC = 0xDB4775248B80FB57
_DTYPES: dict[int, np.dtype[Any]] = {1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i4"), 9: np.dtype("<i8")}


# --------------------------------------------------------------------------- reader
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """Decode one table block (prefix-compressed entries, then restart points) into (key, value)."""
    if data[offset + size] != 0:  # the 5-byte trailer: compression type, crc32c
        raise ValueError(f"block at {offset} is compressed (type {data[offset + size]}); not supported")
    block = data[offset : offset + size]
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * num_restarts
    entries: list[tuple[bytes, bytes]] = []
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    return entries


def _fields(msg: bytes) -> list[tuple[int, int | bytes]]:
    """Decode a protobuf message into (field number, value) pairs (varint, fixed32/64, bytes)."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(msg):
        tag, pos = _varint(msg, pos)
        field, wire = tag >> 3, tag & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(msg, pos)
        elif wire == 1:
            (value,) = struct.unpack_from("<Q", msg, pos)
            pos += 8
        elif wire == 5:
            (value,) = struct.unpack_from("<I", msg, pos)
            pos += 4
        elif wire == 2:
            length, pos = _varint(msg, pos)
            value = msg[pos : pos + length]
            pos += length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((field, value))
    return out


class BundleEntry:
    """One tensor's ``BundleEntryProto``: dtype enum, shape, shard, byte offset and size."""

    def __init__(self, value: bytes) -> None:
        self.dtype = 1
        self.shape: tuple[int, ...] = ()
        self.shard = self.offset = self.size = 0
        for field, v in _fields(value):
            if field == 1:
                self.dtype = int(v)
            elif field == 2:
                assert isinstance(v, bytes)
                dims = [d for f, d in _fields(v) if f == 2]
                self.shape = tuple(int(dict(_fields(d)).get(1, 0)) for d in dims if isinstance(d, bytes))
            elif field == 3:
                self.shard = int(v)
            elif field == 4:
                self.offset = int(v)
            elif field == 5:
                self.size = int(v)
            elif field == 7:
                raise ValueError("partitioned (sliced) tensors are not supported")


def read_index(index: bytes) -> dict[str, BundleEntry]:
    """Parse a TF tensor-bundle ``.index`` file (a LevelDB table) into name -> :class:`BundleEntry`."""
    (magic,) = struct.unpack_from("<Q", index, len(index) - 8)
    if magic != _MAGIC:
        raise ValueError("not a LevelDB table (bad magic number)")
    footer = index[-48:]
    _, pos = _varint(footer, 0)  # metaindex handle: offset,
    _, pos = _varint(footer, pos)  # size (unused)
    index_offset, pos = _varint(footer, pos)
    index_size, pos = _varint(footer, pos)
    entries: dict[str, BundleEntry] = {}
    for _, handle in _block(index, index_offset, index_size):
        offset, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        for key, value in _block(index, offset, size):
            if key:  # the empty key holds the BundleHeaderProto
                entries[key.decode()] = BundleEntry(value)
    return entries


def read_bundle(index: bytes, data: bytes) -> dict[str, np.ndarray]:
    """All tensors of a single-shard bundle as numpy arrays (copies, native byte order)."""
    out: dict[str, np.ndarray] = {}
    for name, entry in read_index(index).items():
        if entry.shard != 0:
            raise ValueError(f"{name}: multi-shard bundles are not supported")
        dtype = _DTYPES[entry.dtype]
        raw = np.frombuffer(data, dtype=dtype, count=entry.size // dtype.itemsize, offset=entry.offset)
        out[name] = raw.reshape(entry.shape).astype(dtype.newbyteorder("="))
    return out


# --------------------------------------------------------------------------- renaming
def _tf_index(name: str, base: str) -> int:
    """``conv2d`` -> 0, ``conv2d_3`` -> 3 (TF's layer-name numbering)."""
    m = re.fullmatch(re.escape(base) + r"(?:_(\d+))?", name)
    if m is None:
        raise ValueError(f"unexpected layer name {name!r}")
    return int(m.group(1) or 0)


# TF layer creation order in musicnn's models.build_musicnn -> our module paths.
_CONV = ["front.timbral.0.conv", "front.timbral.1.conv", "front.temporal.0.conv", "front.temporal.1.conv",
         "front.temporal.2.conv", "mid.0.conv", "mid.1.conv", "mid.2.conv"]  # fmt: skip
_BN = ["input_bn", "front.timbral.0.bn", "front.timbral.1.bn", "front.temporal.0.bn", "front.temporal.1.bn",
       "front.temporal.2.bn", "mid.0.bn", "mid.1.bn", "mid.2.bn", "back.pool_bn", "back.dense_bn"]  # fmt: skip
_DENSE = ["back.dense", "back.classifier"]
_BN_KEYS = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}


def musicnn_state_dict(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename musicnn's TF variables to ``Musicnn`` state_dict keys; drop Adam slots and counters.

    Conv kernels go from TF's ``(height=time, width=freq, in, out)`` to PyTorch's
    ``(out, in, time, freq)``; dense kernels from ``(in, out)`` to ``(out, in)``.
    Raises ``ValueError`` if a needed tensor is missing or an unexpected one is present.
    """
    out: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        parts = name.split("/")
        if parts[-1] in {"Adam", "Adam_1", "beta1_power", "beta2_power", "global_step"}:
            continue  # optimiser state
        if len(parts) != 2:
            raise ValueError(f"unexpected variable {name!r}")
        layer, var = parts
        if layer.startswith("batch_normalization"):
            key = f"{_BN[_tf_index(layer, 'batch_normalization')]}.{_BN_KEYS[var]}"
            out[key] = value
        elif layer.startswith("conv2d"):
            prefix = _CONV[_tf_index(layer, "conv2d")]
            if var == "kernel" and prefix.startswith("mid."):  # Conv1d over time: (out, in=features, time)
                value = value[:, :, 0, :].transpose(2, 1, 0)
            elif var == "kernel":  # Conv2d over (time, freq): (out, 1, time, freq)
                value = value.transpose(3, 2, 0, 1)
            out[f"{prefix}.{var if var == 'bias' else 'weight'}"] = value
        elif layer.startswith("dense"):
            prefix = _DENSE[_tf_index(layer, "dense")]
            out[f"{prefix}.{var if var == 'bias' else 'weight'}"] = value.T if var == "kernel" else value
        else:
            raise ValueError(f"unexpected variable {name!r}")
    expected = {f"{p}.{s}" for p in _CONV + _DENSE for s in ("weight", "bias")}
    expected |= {f"{p}.{s}" for p in _BN for s in _BN_KEYS.values()}
    if set(out) != expected:
        raise ValueError(f"missing {sorted(expected - set(out))}, unexpected {sorted(set(out) - expected)}")
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sorted(out.items())}


# --------------------------------------------------------------------------- driver
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _labels(configuration_py: str) -> dict[str, list[str]]:
    namespace: dict[str, object] = {}
    for line in configuration_py.splitlines():  # only the literal label lists, nothing executed
        m = re.fullmatch(r"(MTT_LABELS|MSD_LABELS)\s*=\s*(\[.*\])\s*", line)
        if m:
            namespace[m.group(1)] = json.loads(m.group(2).replace("'", '"'))
    return {"MSD": list(namespace["MSD_LABELS"]), "MTT": list(namespace["MTT_LABELS"])}  # type: ignore[call-overload]


def convert(wheel: Path, out_dir: Path = OUT_DIR, models: tuple[str, ...] = MODELS) -> dict[str, object]:
    """Convert *models* from the musicnn *wheel*; write weights, licence and provenance into *out_dir*."""
    wheel_bytes = wheel.read_bytes()
    out_dir.mkdir(parents=True, exist_ok=True)
    provenance: dict[str, object] = {
        "source_package": SOURCE_PACKAGE,
        "source_version": SOURCE_VERSION,
        "source_wheel": wheel.name,
        "source_wheel_sha256": _sha256(wheel_bytes),
        "licence": "ISC, copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019 (LICENSE-musicnn.md)",
        "conversion_script": "scripts/convert_musicnn.py",
        "converted_on": dt.date.today().isoformat(),
        "format": "safetensors, float32, keys = musicgenre.models.musicnn.Musicnn.state_dict()",
        "models": {},
    }
    with zipfile.ZipFile(wheel) as zf:
        licence = zf.read(f"{SOURCE_PACKAGE}-{SOURCE_VERSION}.dist-info/LICENSE.md")
        (out_dir / "LICENSE-musicnn.md").write_bytes(licence)
        labels = _labels(zf.read("musicnn/configuration.py").decode())
        for model in models:
            index = zf.read(f"musicnn/{model}/.index")
            data = zf.read(f"musicnn/{model}/.data-00000-of-00001")
            state = musicnn_state_dict(read_bundle(index, data))
            target = out_dir / f"{model}.safetensors"
            save_file(state, str(target), metadata={"source": f"{SOURCE_PACKAGE}=={SOURCE_VERSION}/{model}"})
            provenance["models"][model] = {  # type: ignore[index]
                "weights": target.name,
                "weights_sha256": _sha256(target.read_bytes()),
                "source_files": {
                    f"musicnn/{model}/.index": _sha256(index),
                    f"musicnn/{model}/.data-00000-of-00001": _sha256(data),
                },
                "num_values": int(sum(v.size for v in state.values())),
                "tags": labels[model.split("_")[0]],
            }
            target.chmod(0o644)  # safetensors writes 0600
    (out_dir / "PROVENANCE.json").write_text(json.dumps(provenance, indent=2) + "\n")
    return provenance


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``convert_musicnn.py WHEEL [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="musicnn-0.1.0-py3-none-any.whl (pip download --no-deps)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"output folder (default {OUT_DIR})")
    args = parser.parse_args(argv)
    provenance = convert(args.wheel, args.out)
    for model, info in provenance["models"].items():  # type: ignore[attr-defined]
        size = (args.out / info["weights"]).stat().st_size
        print(f"{model}: {info['num_values']:,} values, {size / 1e6:.2f} MB -> {args.out / info['weights']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
