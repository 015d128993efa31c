"""Content-hashed cache of generated modules.

A module's file name is ``<stem>_<hash>.py`` with the hash over its source and
the package version: different source or version, different file, so nothing
stale is ever imported. Its first line records a checksum of the rest; a
truncated or corrupted file fails the check and is rewritten. Writes go to a
temporary file in the same directory and are moved in with ``os.replace``
(atomic), so two processes compiling at once both end with a complete file.
A cache directory that cannot be written falls back to a per-user temporary one.

Deriving a module's source takes seconds, so a second process should not redo
it just to learn the hash: ``load_derived`` keeps an index from the derivation's
inputs (the activation, the package and SymPy versions, and a hash of the
generator's own code) to the module file. Any change to those inputs is a new
index entry; the module file is still named by its source hash and checked.
Two processes that miss at once do not both derive: the first holds an advisory
lock on the inputs' hash (``fcntl.flock``, under ``locks/``) while it derives, and
the second, once it has the lock, finds the entry written and imports it.

Derived *numbers* (the Taylor tables of the one-copy moments of the test suite's pull-back oracle,
minutes to derive at order 3) are kept the same way by ``load_derived_arrays``: an
``.npz`` archive named by the inputs' hash, holding a checksum over its arrays.

The directory is ``$PERTURBO_CACHE_DIR``, else ``$XDG_CACHE_HOME/perturbo``, else
``~/.cache/perturbo``. Numba's own compiled code (``cache=True``) lives next to
each module, in ``__pycache__``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np

from .._version import __version__

log = logging.getLogger(__name__)
CHECKSUM_PREFIX = "# perturbo-checksum: "


def cache_dir() -> Path:
    """Where generated modules are kept (see the module docstring)."""
    configured = os.environ.get("PERTURBO_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "perturbo"


def _fallback_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"perturbo-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


def _checksum(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def _intact(path: Path) -> bool:
    try:
        first, body = path.read_text().split("\n", 1)
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return first == CHECKSUM_PREFIX + _checksum(body)


def _write_atomically(path: Path, body: str | bytes) -> None:
    """Write ``body`` (text gets a checksum line) to a temporary file and move it in."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = body if isinstance(body, bytes) else (CHECKSUM_PREFIX + _checksum(body) + "\n" + body).encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _versioned_digest(text: str) -> str:
    return hashlib.sha256(f"{__version__}\n{text}".encode()).hexdigest()[:20]


def module_path(stem: str, source: str, directory: Path) -> Path:
    return directory / f"{stem}_{_versioned_digest(source)}.py"


def load_module(stem: str, source: str) -> ModuleType:
    """Import ``source`` as a registered module from the cache, writing it first if absent or damaged."""
    return _import(_store(stem, source))


def _store(stem: str, source: str) -> Path:
    """The intact cache file holding ``source``, written (atomically) if absent or damaged."""
    for directory in (cache_dir(), _fallback_dir()):
        path = module_path(stem, source, directory)
        try:
            if not _intact(path):
                if path.exists():
                    log.warning("rebuilding damaged cache file %s", path)
                _write_atomically(path, source)
            return path
        except OSError as exc:
            log.warning("cache directory %s is not writable (%s); using %s", directory, exc, _fallback_dir())
    raise OSError(f"no writable cache directory: set PERTURBO_CACHE_DIR to a writable folder (tried {path.parent})")


def _index_path(stem: str, inputs: str, directory: Path) -> Path:
    return directory / "index" / f"{stem}_{_versioned_digest(inputs)}.txt"


@contextmanager
def _exclusive(name: str) -> Iterator[None]:
    """An advisory lock on ``name`` shared by every process using the cache (``fcntl.flock`` on a file under
    ``locks/``), held while the block runs; without ``fcntl`` (not POSIX) or a writable directory, no lock."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    path = cache_dir() / "locks" / f"{name}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _indexed(stem: str, inputs: str) -> Path | None:
    """The intact module file an intact index entry names, else ``None``."""
    for directory in (cache_dir(), _fallback_dir()):
        index = _index_path(stem, inputs, directory)
        if _intact(index):
            path = directory / index.read_text().split("\n", 1)[1]
            if _intact(path):
                log.debug("cache hit: %s", path)
                return path
    return None


def load_derived(stem: str, inputs: str, derive: Callable[[], str]) -> ModuleType:
    """Import the module that ``derive()`` generates from ``inputs``, deriving only on a cache miss.

    ``inputs`` must determine the source completely (see the module docstring). A hit
    needs an intact index entry naming an intact module file; anything else re-derives,
    one process at a time (the others wait, then find it).
    """
    path = _indexed(stem, inputs)
    if path is None:
        with _exclusive(f"{stem}_{_versioned_digest(inputs)}"):
            path = _indexed(stem, inputs)  # written while this process waited for the lock?
            if path is None:
                log.info("deriving the %s module (not in the cache %s)", stem, cache_dir())
                path = _store(stem, derive())
                try:
                    _write_atomically(_index_path(stem, inputs, path.parent), path.name)
                except OSError as exc:  # the module is usable; the next process derives again
                    log.warning("could not write the cache index in %s (%s)", path.parent, exc)
    return _import(path)


ARRAY_CHECKSUM = "_checksum"


def _arrays_checksum(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode() + a.tobytes())
    return digest.hexdigest()


def _read_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of an intact archive, else ``None`` (absent, truncated, corrupted)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
        return None
    stored = arrays.pop(ARRAY_CHECKSUM, None)
    return arrays if stored is not None and str(stored) == _arrays_checksum(arrays) else None


def load_derived_arrays(
    stem: str, inputs: str, derive: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """The numeric arrays ``derive()`` computes from ``inputs``, deriving only on a cache miss.

    ``inputs`` must determine the arrays completely; a damaged archive is derived again.
    """
    name = f"{stem}_{_versioned_digest(inputs)}.npz"

    def stored() -> dict[str, np.ndarray] | None:
        for directory in (cache_dir(), _fallback_dir()):
            arrays = _read_arrays(directory / "arrays" / name)
            if arrays is not None:
                log.debug("cache hit: %s", directory / "arrays" / name)
                return arrays
        return None

    arrays = stored()
    if arrays is not None:
        return arrays
    with _exclusive(name):
        arrays = stored()  # written while this process waited for the lock?
        if arrays is None:
            log.info("deriving %s (not in the cache %s)", stem, cache_dir())
            arrays = _derive_and_store(name, stem, derive)
    return arrays


def _derive_and_store(name: str, stem: str, derive: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``derive()``, written to the cache as the archive ``name`` (with a checksum over its arrays)."""
    arrays = derive()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, **{ARRAY_CHECKSUM: np.array(_arrays_checksum(arrays))})
    for directory in (cache_dir(), _fallback_dir()):
        try:
            _write_atomically(directory / "arrays" / name, buffer.getvalue())
            break
        except OSError as exc:  # the arrays are usable; the next process derives again
            log.warning("could not write %s to the cache %s (%s)", stem, directory, exc)
    return arrays


def _import(path: Path) -> ModuleType:
    name = f"perturbo_generated.{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def cache_info() -> dict[str, object]:
    """The cache directory, its generated modules, derived arrays and their total size in bytes."""
    directory = cache_dir()
    files = sorted(directory.glob("*.py")) if directory.is_dir() else []
    arrays = sorted((directory / "arrays").glob("*.npz")) if directory.is_dir() else []
    size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) if directory.is_dir() else 0
    return {
        "directory": str(directory),
        "modules": [f.name for f in files],
        "arrays": [f.name for f in arrays],
        "bytes": size,
    }


def cache_clear() -> dict[str, object]:
    """Remove the cache directory; return what ``cache_info`` listed in it."""
    info = cache_info()
    shutil.rmtree(cache_dir(), ignore_errors=True)
    return info
