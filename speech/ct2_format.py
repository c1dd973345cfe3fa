"""Read and write CTranslate2's model.bin: a little-endian list of named arrays plus aliases.

Layout (ctranslate2/specs/model_spec.py, binary version 6): u32 version, string spec name, u32 revision,
u32 count, then per variable: string name, u8 rank, u32 dims, u8 dtype id, u32 byte size, bytes; then u32
alias count and (alias, target) string pairs. Strings are u16 length (incl. NUL), UTF-8, NUL.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from speech.errors import ModelIntegrityError

BINARY_VERSION = 6
# CTranslate2's DataType enum order (include/ctranslate2/types.h); bfloat16 (5) has no numpy type.
DTYPES: dict[int, type[np.generic]] = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
DTYPE_IDS = {np.dtype(t): i for i, t in DTYPES.items()}


@dataclass
class Ct2Model:
    spec: str
    revision: int
    variables: dict[str, np.ndarray]  # in file order
    aliases: list[tuple[str, str]] = field(default_factory=list)  # (alias, target)

    def resolved(self) -> dict[str, np.ndarray]:
        """Variables with aliases filled in (e.g. Whisper's tied output projection)."""
        return self.variables | {alias: self.variables[target] for alias, target in self.aliases}


def read(path: Path) -> Ct2Model:
    data = path.read_bytes()
    offset = 0

    def take(fmt: str) -> int:
        nonlocal offset
        (value,) = struct.unpack_from("<" + fmt, data, offset)
        offset += struct.calcsize("<" + fmt)
        return value

    def text() -> str:
        nonlocal offset
        length = take("H")  # includes the trailing NUL
        value = data[offset : offset + length - 1].decode("utf-8")
        offset += length
        return value

    try:
        version = take("I")
        if version != BINARY_VERSION:
            raise ModelIntegrityError(f"{path}: CTranslate2 binary version {version}, expected {BINARY_VERSION}.")
        spec, revision = text(), take("I")
        variables: dict[str, np.ndarray] = {}
        for _ in range(take("I")):
            name = text()
            shape = tuple(take("I") for _ in range(take("B")))
            dtype_id, nbytes = take("B"), take("I")
            if dtype_id not in DTYPES:
                raise ModelIntegrityError(f"{path}: {name} has CTranslate2 type {dtype_id}, which is not supported.")
            dtype = np.dtype(DTYPES[dtype_id])
            variables[name] = np.frombuffer(data, dtype, nbytes // dtype.itemsize, offset).reshape(shape)
            offset += nbytes
        aliases = [(text(), text()) for _ in range(take("I"))]
    except (struct.error, UnicodeDecodeError, ValueError) as e:
        raise ModelIntegrityError(f"{path} is not a readable CTranslate2 model ({e}).") from e
    return Ct2Model(spec, revision, variables, aliases)


def write(path: Path, model: Ct2Model) -> None:
    with path.open("wb") as f:
        _write(f, model)


def _write(f: BinaryIO, model: Ct2Model) -> None:
    def text(value: str) -> None:
        encoded = value.encode("utf-8")
        f.write(struct.pack("<H", len(encoded) + 1) + encoded + b"\0")

    f.write(struct.pack("<I", BINARY_VERSION))
    text(model.spec)
    f.write(struct.pack("<II", model.revision, len(model.variables)))
    for name, array in model.variables.items():
        text(name)
        f.write(struct.pack("<B", array.ndim) + struct.pack(f"<{array.ndim}I", *array.shape))
        payload = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        f.write(struct.pack("<BI", DTYPE_IDS[array.dtype], len(payload)) + payload)
    f.write(struct.pack("<I", len(model.aliases)))
    for alias, target in model.aliases:
        text(alias)
        text(target)
