"""Index files on disk: one self-checking file per index, written atomically.

Layout: MAGIC, u64 header length, JSON header, u64 blob length, blob, sha256 of everything before it.
A write goes to a temporary file in the same folder, is fsync'ed, then `os.replace`d over the old file
and the folder is fsync'ed: a crash at any moment leaves either the old file or the new one, never a
torn one. A truncated or garbled file fails the length or checksum test and raises IndexCorrupt, which
the knowledge base answers by rebuilding from the store (the source of truth).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
from pathlib import Path

from retrieval.errors import IndexCorrupt

MAGIC = b"FINDESK-INDEX-1\n"
_U64 = struct.Struct("<Q")


def write_index_file(path: Path, header: dict, blob: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    body = b"".join([MAGIC, _U64.pack(len(header_bytes)), header_bytes, _U64.pack(len(blob)), blob])
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temp.open("wb") as handle:
            handle.write(body)
            handle.write(hashlib.sha256(body).digest())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()  # only still there when the write or the replace failed
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; not supported on every platform (Windows), where it is skipped.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_index_file(path: Path) -> tuple[dict, bytes]:
    """Header and blob of an index file; IndexCorrupt when it is truncated, garbled or not ours."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise IndexCorrupt(f"cannot read index file {path}: {error}") from error
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 2 * _U64.size + 32:
        raise IndexCorrupt(f"{path} is not a FinDesk index file or is truncated")
    body, digest = data[:-32], data[-32:]
    if hashlib.sha256(body).digest() != digest:
        raise IndexCorrupt(f"{path} fails its checksum (truncated or garbled)")
    at = len(MAGIC)
    (header_len,) = _U64.unpack_from(body, at)
    at += _U64.size
    header_bytes = body[at : at + header_len]
    at += header_len
    (blob_len,) = _U64.unpack_from(body, at)
    at += _U64.size
    blob = body[at : at + blob_len]
    if len(blob) != blob_len or at + blob_len != len(body):
        raise IndexCorrupt(f"{path} has inconsistent section lengths")
    try:
        header = json.loads(header_bytes)
    except ValueError as error:
        raise IndexCorrupt(f"{path} has an unreadable header: {error}") from error
    return header, blob
