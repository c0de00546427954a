"""Report files replaced whole: every page, CSV and figure is written to a hidden temporary file
in its own folder (`.index.html.1f2e3d4c.tmp`), flushed to disk and renamed onto its name in
one step (`os.replace`). A browser, or a report killed halfway through writing, sees the
previous complete file or the new complete one, never part of one.

A temporary file is removed when its writing fails. One that a killed process left behind
(SIGKILL runs no clean-up) is hidden, so it is never taken for a report file, and is removed the
next time a report is written into its folder."""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from pathlib import Path
from typing import Iterator

from ..errors import HarnessError

#: a temporary file's name: a dot, the file's own name, eight hex digits, .tmp
TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")

#: when this process loaded the report layer: a temporary file older than that, in a folder this
#: process writes, is not one of this process's (nor, in practice, one still being written)
_STARTED = time.time()

#: the folders this process has swept (`sweep`): each is swept once
_SWEPT: set[Path] = set()


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`, for the block to write the file to; when the block ends
    without an error, its contents are flushed to disk (fsync) and it replaces `path` in one
    rename. On any error, or an interrupt, it is removed and `path` stays as it was."""
    path = Path(path)
    sweep(path.parent)
    temporary = _create(path)
    try:
        yield temporary
        _fsync(temporary)
        os.replace(temporary, path)
    except OSError as exc:  # a full disk, a file system gone read-only: said of the file, not of its temporary
        temporary.unlink(missing_ok=True)
        if exc.filename is None or str(exc.filename) == str(temporary):
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """`path.write_text(text)` (UTF-8), the file replaced whole (`replacing`)."""
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_bytes(path: Path, data: bytes) -> None:
    """`path.write_bytes(data)`, the file replaced whole (`replacing`)."""
    with replacing(path) as temporary:
        temporary.write_bytes(data)


def check_folder(folder: Path) -> None:
    """Refuse (HarnessError, one line) a reports folder that cannot be created or written: a
    read-only or virtual file system, a file in the way, no permission. Checked before a run
    trains, so that its reports are not lost after the training."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with replacing(folder / ".write-check") as temporary:
            temporary.write_bytes(b"")
        (folder / ".write-check").unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise HarnessError(f"cannot write the reports folder {folder}: {reason}"
                           f"{f' ({exc.filename})' if exc.filename and str(exc.filename) != str(folder) else ''}; "
                           "give another --reports-dir") from None


def sweep(folder: Path) -> None:
    """Remove the temporary files (`TEMPORARY`) older than this process from `folder`: what a
    killed report left there. Once per folder and process."""
    folder = Path(folder)
    if folder in _SWEPT:
        return
    _SWEPT.add(folder)
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if TEMPORARY.match(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):  # gone already, or another process removed it
                    if entry.stat(follow_symlinks=False).st_mtime < _STARTED:
                        os.unlink(entry.path)


def _create(path: Path) -> Path:
    """A new, empty temporary file beside `path`, created exclusively (as `tempfile.mkstemp`
    creates one), with the permissions a plain write would give (0666 less the umask, where
    mkstemp gives 0600)."""
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return temporary
        except FileExistsError:  # pragma: no cover - 2**32 names
            continue


def _fsync(path: Path) -> None:
    """Flush the file's contents to disk, so that the rename never outlives them (a crash of the
    machine right after it leaves the old file or the new one, not an empty one)."""
    handle = os.open(path, os.O_RDWR)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
