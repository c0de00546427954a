"""Outputs that cannot be written, on real small file systems (a tmpfs of a few MB, mounted by
the test: it needs root, as CI has here): a reports folder or store that cannot be written is
refused before anything trains, in one line; a disk that fills while a run trains stops it
with one line, keeps every job committed before, and the same command then resumes it."""
import contextlib
import os
import sqlite3
import subprocess

import pytest

from tests.test_kill import EXPERIMENT, JOBS, start, stored_rows, wait_for


def system(*command, check=False, timeout=60):
    """A mount, umount, mkfs, fsck or losetup, bounded in time: one that does not end within
    `timeout` seconds fails the test, and is not waited for again (a process stuck in the kernel
    cannot be killed, and `subprocess.run` would wait for it for ever)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"{' '.join(command)} did not end within {timeout} s") from None
    if check and process.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({process.returncode}): {err.strip()}")
    return subprocess.CompletedProcess(command, process.returncode, out, err)


@contextlib.contextmanager
def tmpfs(folder, size="2m", read_only=False):
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = system("mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder))
    if mounted.returncode != 0:
        if os.environ.get("CI"):
            raise AssertionError(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): needs root")
    try:
        yield folder
    finally:
        system("umount", "-l", str(folder), check=True)


def _fill(folder):
    """Write zeros into `folder` until its file system is full."""
    with open(folder / "filler", "wb") as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
    with contextlib.suppress(OSError):  # the last few blocks
        with open(folder / "filler-2", "wb") as handle:
            while True:
                handle.write(b"\0" * 512)
                handle.flush()


def _last_line(output):
    lines = output.strip().splitlines()
    assert "Traceback" not in output, output
    return lines[-1]


@pytest.mark.parametrize("where", ["store", "reports"])
def test_an_output_on_a_read_only_file_system_is_refused_before_anything_trains(tmp_path, where):
    (tmp_path / "kill_me.py").write_text(EXPERIMENT)
    (tmp_path / "marks").mkdir()
    with tmpfs(tmp_path / "ro", read_only=True) as ro:
        db = ro / "results.sqlite" if where == "store" else tmp_path / "results.sqlite"
        args = () if where == "store" else ("--reports-dir", str(ro / "reports"))
        run = start(tmp_path, db, args=args)
        output = run.communicate(timeout=300)[0]
        assert run.returncode == 2, output
        expected = (f"error: cannot write the results store {db} (unable to open database file): {ro} is on a read-only "
                    "file system; give another --db" if where == "store" else
                    f"error: cannot write the reports folder {ro / 'reports'}: Read-only file system; give another --reports-dir")
        assert output.strip().splitlines() == [expected]  # one line, before anything trained
        assert stored_rows(tmp_path / "results.sqlite") == 0


@pytest.mark.parametrize("where", ["store", pytest.param("reports", marks=pytest.mark.slow)])  # reports: test-all
def test_a_disk_that_fills_mid_run_stops_it_in_one_line_keeping_what_was_committed(tmp_path, where):
    (tmp_path / "kill_me.py").write_text(EXPERIMENT)
    (tmp_path / "marks").mkdir()
    with tmpfs(tmp_path / "small", size="2m") as small:
        db = small / "results.sqlite" if where == "store" else tmp_path / "results.sqlite"
        args = () if where == "store" else ("--reports-dir", str(small / "reports"))
        run = start(tmp_path, db, args=args, seconds=0.5)
        wait_for(lambda: stored_rows(db) > 0 or run.poll() is not None, "the first stored task")
        _fill(small)
        kept = stored_rows(db)
        output = run.communicate(timeout=120)[0]
        assert run.returncode == 2, output
        if where == "store":
            assert _last_line(output) == (f"error: the results store {db}: database or disk is full: the jobs stored "
                                          "before are kept; free some space, and the same command resumes the run")
            assert 0 < kept == stored_rows(db) < JOBS
        else:  # every job trained and stored; the report could not be written
            assert _last_line(output).startswith(f"error: cannot write {small / 'reports'}")
            assert _last_line(output).endswith(": No space left on device: the jobs stored before are kept; free some "
                                               "space, and the same command resumes the run")
            kept = stored_rows(db)
            assert kept == JOBS
        for filler in small.glob("filler*"):
            filler.unlink()
        with sqlite3.connect(db) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        resumed = start(tmp_path, db, args=args)  # the same command
        output = resumed.communicate(timeout=300)[0]
        assert resumed.returncode == 0, output
        assert f"kill-me: {kept} of {JOBS} jobs found done in the store; training the other {JOBS - kept}" in output
        assert stored_rows(db) == JOBS
        assert "</html>" in (tmp_path / "reports" if where == "store" else small / "reports").joinpath(
            "kill-me", "index.html").read_text()



@contextlib.contextmanager
def ext4(folder, image, size_mb=16):
    """An ext4 file system on a loop device (made in `image` when it does not exist) mounted on
    `folder`, that turns read-only on its first error (errors=remount-ro), as a failing disk's
    does; yields the sysfs file whose writing makes that error (`trigger_fs_error`)."""
    if not image.exists():
        with open(image, "wb") as handle:
            handle.truncate(size_mb << 20)
        system("mkfs.ext4", "-q", "-F", str(image), check=True)
    else:  # checked after its error, as a user would before mounting it again
        system("e2fsck", "-fy", str(image))
    loop = system("losetup", "-f", "--show", str(image))
    if loop.returncode != 0:
        if os.environ.get("CI"):
            raise AssertionError(f"cannot attach a loop device: {loop.stderr.strip()}")
        pytest.skip(f"cannot attach a loop device here ({loop.stderr.strip()}): needs root")
    device = loop.stdout.strip()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        system("blockdev", "--setrw", device, check=True)
        system("mount", "-o", "errors=remount-ro", device, str(folder), check=True)
        yield f"/sys/fs/ext4/{os.path.basename(device)}/trigger_fs_error"
    finally:
        try:
            unmounted = system("umount", str(folder))
        finally:  # never left mounted or attached, whatever held it
            with contextlib.suppress(AssertionError):
                system("umount", "-l", str(folder))
            with contextlib.suppress(AssertionError):
                system("losetup", "-d", device)
    assert unmounted.returncode == 0, f"the test left a file open on its disk: {unmounted.stderr.strip()}"


def _mount_options(folder):
    for line in open("/proc/mounts"):
        fields = line.split()
        if fields[1] == str(folder):
            return fields[3].split(",")
    return []


def test_a_store_whose_file_system_turns_read_only_mid_run_stops_it_in_one_line_and_resumes(tmp_path):
    """ext4 on a loop device, made to fail while the run trains: the kernel remounts it
    read-only under the open store (a remount by hand is refused while a file is open for
    writing, so this is how a store turns read-only)."""
    (tmp_path / "kill_me.py").write_text(EXPERIMENT)
    (tmp_path / "marks").mkdir()
    disk, image = tmp_path / "disk", tmp_path / "disk.img"
    db = disk / "results.sqlite"
    with ext4(disk, image) as trigger:
        run = start(tmp_path, db, seconds=0.5)
        wait_for(lambda: stored_rows(db) > 0 or run.poll() is not None, "the first stored task")
        with open(trigger, "w") as handle:  # ext4 records an error and remounts itself read-only
            handle.write("regbench test: the store's disk fails\n")
        output = run.communicate(timeout=120)[0]
        assert "emergency_ro" in _mount_options(disk) or "ro" in _mount_options(disk)
        assert run.returncode == 2, output
        last = _last_line(output)
        assert last.startswith(f"error: the results store {db}: ") and last.endswith(
            ": the jobs stored before are kept; the same command resumes the run"), last
    with ext4(disk, image):  # checked and mounted again
        kept = stored_rows(db)
        assert 0 < kept < JOBS
        resumed = start(tmp_path, db)
        output = resumed.communicate(timeout=300)[0]
        assert resumed.returncode == 0, output
        assert f"kill-me: {kept} of {JOBS} jobs found done in the store; training the other {JOBS - kept}" in output
        assert stored_rows(db) == JOBS
