"""Datasets: scikit-learn's bundled ones, and CSV files fetched once into a local cache.

A downloaded file is checked against the SHA-256 its experiment pins (`sha256=`); without a
pin, its hash is recorded in `SHA256SUMS` in the cache folder on first download and checked on
every later load. Offline and uncached, loading raises DataUnavailable, which
the runner turns into a one-line "skipped" message.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import DataUnavailable, HarnessError
from .core import Dataset

DATA_DIR_ENV = "HARNESS_DATA_DIR"
CHECKSUMS = "SHA256SUMS"


def default_data_dir() -> Path:
    """$HARNESS_DATA_DIR, else ~/.cache/regbench."""
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "regbench")


def sklearn_dataset(name: str) -> Dataset:
    """One of scikit-learn's bundled datasets (no network): wine, breast_cancer, diabetes, iris."""
    from sklearn import datasets

    loaders = {
        "wine": ("classification", datasets.load_wine),
        "breast_cancer": ("classification", datasets.load_breast_cancer),
        "iris": ("classification", datasets.load_iris),
        "diabetes": ("regression", datasets.load_diabetes),
    }
    if name not in loaders:
        raise HarnessError(f"unknown scikit-learn dataset {name!r}; choose from {sorted(loaders)}")
    task, loader = loaders[name]
    bunch = loader(as_frame=True)
    return Dataset(name, bunch.data, bunch.target.rename("target"), task)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _recorded_checksums(data_dir: Path) -> dict[str, str]:
    path = data_dir / CHECKSUMS
    if not path.exists():
        return {}
    pairs = (line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip())
    return {name.strip(): digest for digest, name in pairs}


def _record_checksum(data_dir: Path, filename: str, digest: str) -> None:
    with open(data_dir / CHECKSUMS, "a") as handle:
        handle.write(f"{digest}  {filename}\n")


def cached_file(url: str, data_dir: Path, filename: str | None = None, timeout: float = 20.0,
                sha256: str | None = None) -> Path:
    """The local copy of `url` in `data_dir`, downloaded on first use.

    With `sha256` (the file's SHA-256, pinned by the experiment) a copy is used only when it
    matches: a download that does not match is refused and never lands in the cache, and a
    cached copy that does not match is replaced only by a download that does (otherwise it is
    kept, and refused). Without a pin, the hash of the first download is recorded in
    `SHA256SUMS` and later loads are checked against it. Downloads go to a temporary file
    renamed into place only when complete."""
    data_dir = Path(data_dir)
    filename = filename or url.rstrip("/").rsplit("/", 1)[-1]
    path = data_dir / filename
    pinned = sha256.strip().lower() if sha256 else None
    if pinned is not None:
        return _pinned_copy(url, path, pinned, timeout)
    recorded = _recorded_checksums(data_dir)
    if not path.exists():
        _download(url, path, timeout)
    digest = sha256_of(path)
    if filename not in recorded:
        _record_checksum(data_dir, filename, digest)
    elif recorded[filename] != digest:
        raise HarnessError(
            f"{path} has SHA-256 {digest}, not the {recorded[filename]} recorded in "
            f"{data_dir / CHECKSUMS}; delete the file to download it again"
        )
    return path


def _pinned_copy(url: str, path: Path, pinned: str, timeout: float) -> Path:
    if path.exists():
        cached = sha256_of(path)
        if cached == pinned:
            return path
        try:
            fresh = _download_verified(url, path, pinned, timeout)
        except DataUnavailable as exc:
            raise HarnessError(f"{path} has SHA-256 {cached}, not the pinned {pinned}, and no new copy could be "
                               f"fetched ({exc}); the cached copy is kept but not used") from None
        return fresh
    return _download_verified(url, path, pinned, timeout)


def _download_verified(url: str, path: Path, pinned: str, timeout: float) -> Path:
    """Download to a temporary file and move it into place only when its SHA-256 is `pinned`;
    otherwise delete it and refuse, naming both hashes (an existing copy stays as it was)."""
    partial = path.with_name(path.name + ".download")
    _download(url, partial, timeout, shown=path)
    got = sha256_of(partial)
    if got != pinned:
        partial.unlink(missing_ok=True)
        raise HarnessError(f"{url} downloaded with SHA-256 {got}, not the pinned {pinned}: refused"
                           + ("; the cached copy is kept" if path.exists() else ""))
    os.replace(partial, path)
    return path


def _download(url: str, path: Path, timeout: float, shown: Path | None = None) -> None:
    """Fetch `url` into `path` through a temporary file in the same folder, renamed into place
    once complete: an interrupted download never leaves a partial file at `path`. Messages
    name `shown` (the cached file the user knows), default `path`."""
    shown = shown or path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataUnavailable(f"cannot create the data cache {path.parent}: {exc}") from None
    tmp_name = None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
                tmp_name = tmp.name
                shutil.copyfileobj(response, tmp)
                received, expected = tmp.tell(), response.headers.get("Content-Length")
        if expected is not None and expected.isdigit() and received != int(expected):
            raise DataUnavailable(f"the download of {url} stopped after {received} of {expected} bytes; "
                                  "nothing was cached, try again")
        os.replace(tmp_name, path)
        tmp_name = None
    except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise DataUnavailable(
            f"{shown.name} is not cached in {shown.parent} and {url} cannot be reached ({reason}); "
            f"put a copy there, or point --data-dir / ${DATA_DIR_ENV} at a folder holding it"
        ) from None
    finally:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)


def cached_csv(url: str, data_dir: Path, filename: str | None = None, sha256: str | None = None,
               **read_csv: Any) -> pd.DataFrame:
    """`pandas.read_csv` of the cached copy of `url` (checked against `sha256` when pinned)."""
    return pd.read_csv(cached_file(url, data_dir, filename, sha256=sha256), **read_csv)
