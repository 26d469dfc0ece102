"""A results store: one ``.npz`` file per realization, so an interrupted run resumes.

A file is keyed by ``(claim, result digest, seed, k, package version)`` (the digest:
:func:`validation.configs.result_digest` — the configuration, the measurement code, a plugin's source, a data
file's bytes) and holds the realization's measured quantities plus the key itself and the seconds it took to
compute.
Files are written atomically (temporary file in the same folder, then ``os.replace``) and read
with ``allow_pickle=False``; an entry that cannot be read (garbage, truncated, a folder in its place) or whose
stored key does not match is removed and reported missing, so it is recomputed and never read. A store that
cannot be written (full disk, read-only file system) raises :class:`StoreError`, one line naming the store and
the cause; the entries already written stay valid.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

import randnet

_KEY = "__key__"
_SECONDS = "__seconds__"


def _umask() -> int:
    """The process umask (read from /proc where possible: setting it to query it is not thread-safe)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def replace_atomically(path: Path, write) -> None:
    """``write(tmp)`` into a temporary file beside ``path``, then ``os.replace`` it (readable as a normal file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StoreError(OSError):
    """The results store cannot be written (its entries written so far are kept)."""


def _discard(path: Path) -> None:
    """Remove a corrupt entry (a file, or a folder in its place); a store we cannot write is left as it is (the
    next :meth:`Store.save` reports it)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


class Store:
    """Per-realization results under ``root/<claim>/``."""

    def __init__(self, root: str | os.PathLike, version: str = randnet.__version__) -> None:
        self.root = Path(root)
        self.version = version

    def _key(self, claim_key: str, digest: str, seed: int, k: int) -> str:
        return f"{claim_key}|{digest}|seed={seed}|k={k}|v={self.version}"

    def path(self, claim_key: str, digest: str, seed: int, k: int) -> Path:
        return self.root / claim_key / f"{digest}-s{seed}-k{k}-v{self.version}.npz"

    def load(self, claim_key: str, digest: str, seed: int, k: int) -> tuple[dict[str, np.ndarray], float] | None:
        """The stored ``(values, seconds)``, or None when missing, unreadable or mismatched (then deleted)."""
        path = self.path(claim_key, digest, seed, k)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as f:
                data = {name: f[name] for name in f.files}
            if str(data.pop(_KEY)) != self._key(claim_key, digest, seed, k):
                raise ValueError("stored key does not match")
            seconds = float(data.pop(_SECONDS))
            return data, seconds
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            _discard(path)
            return None

    def save(self, claim_key: str, digest: str, seed: int, k: int, values: Mapping[str, np.ndarray],
             seconds: float) -> Path:
        """Write atomically; returns the file's path."""
        reserved = {_KEY, _SECONDS} & set(values)
        if reserved:
            raise ValueError(f"quantity names {sorted(reserved)} are reserved by the store")
        path = self.path(claim_key, digest, seed, k)
        extra = {_KEY: np.array(self._key(claim_key, digest, seed, k)), _SECONDS: np.array(seconds)}

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, **values, **extra)
                f.flush()
                os.fsync(f.fileno())

        if path.is_dir():  # a folder in the entry's place: corrupt (load discards it too)
            _discard(path)
        try:
            replace_atomically(path, write)
        except OSError as e:
            raise StoreError(f"cannot write to the results store {self.root} ({e.strerror or e}): realization {k} "
                             f"of {claim_key} was not stored; the realizations stored so far are kept") from None
        return path
