"""Uniform access to what a user hands to :func:`core.io.load_scan`.

A source is a path, raw bytes, or a file-like object (Streamlit's ``UploadedFile``
has ``.name`` and ``.getvalue()``). Paths are only stat-ed until their bytes are
needed, so an oversized file can be refused without reading it; uploads stay in
memory and are never written to disk.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.io.errors import CorruptFileError

#: Bytes read from the start of a file for format sniffing and header peeks.
HEAD_BYTES = 64 * 1024


@dataclass
class Source:
    """One input file, read lazily.

    Attributes:
        name: file name (base name only, never a directory path), may be empty.
        size_bytes: total size in bytes.
    """

    name: str
    size_bytes: int
    path: Path | None = None
    _data: bytes | None = field(default=None, repr=False)

    def head(self, n: int = HEAD_BYTES) -> bytes:
        """The first ``n`` bytes (reads only those from a path)."""
        if self._data is not None:
            return self._data[:n]
        assert self.path is not None
        with open(self.path, "rb") as fh:
            return fh.read(n)

    def read(self) -> bytes:
        """All bytes (cached)."""
        if self._data is None:
            assert self.path is not None
            self._data = self.path.read_bytes()
        return self._data

    def sha256(self) -> str:
        return hashlib.sha256(self.read()).hexdigest()


def _name_of(obj: Any, filename: str | None) -> str:
    raw = filename if filename is not None else getattr(obj, "name", None)
    if not isinstance(raw, str):
        return ""
    # Only the base name: a directory path can carry a patient name or a site.
    return os.path.basename(raw.replace("\\", "/"))


def as_source(obj: Any, filename: str | None = None) -> Source:
    """Wrap a path, bytes or file-like object as a :class:`Source`.

    Raises:
        CorruptFileError: a path that does not exist or is not a file.
        TypeError: an object of an unsupported type (a programming error).
    """
    if isinstance(obj, Source):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        if not path.is_file():
            raise CorruptFileError(f"The file '{path.name}' does not exist or is not a regular file.")
        return Source(name=_name_of(None, filename if filename is not None else path.name),
                      size_bytes=path.stat().st_size, path=path)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        return Source(name=_name_of(None, filename), size_bytes=len(data), _data=data)
    if hasattr(obj, "getvalue"):
        data = bytes(obj.getvalue())
        return Source(name=_name_of(obj, filename), size_bytes=len(data), _data=data)
    if hasattr(obj, "read"):
        if hasattr(obj, "seek"):
            obj.seek(0)
        data = obj.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        return Source(name=_name_of(obj, filename), size_bytes=len(data), _data=bytes(data))
    raise TypeError(f"load_scan accepts a path, bytes, a file-like object or a list of those, not {type(obj).__name__}")


def as_sources(obj: Any, filename: str | None = None) -> list[Source]:
    """Like :func:`as_source` but also accepts a list/tuple (several files = one DICOM series)
    and a directory path (its files, recursively, hidden ones skipped: a DICOM series folder)."""
    if isinstance(obj, (list, tuple)):
        return [as_source(o) for o in obj]
    if isinstance(obj, (str, os.PathLike)) and Path(obj).is_dir():
        root = Path(obj)
        files = sorted(p for p in root.rglob("*") if p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(root).parts))
        return [as_source(p) for p in files]
    return [as_source(obj, filename)]


__all__ = ["Source", "as_source", "as_sources", "HEAD_BYTES"]
