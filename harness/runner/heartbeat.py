"""A run's hold on the experiments it runs, in the store: their leases and its heartbeat.

A run takes the leases of its experiments before anything trains, in one transaction: a second
process that would run one of them on the same store is refused with one line, while the
first is alive. The run then beats (`Store.beat`) every `HEARTBEAT_SECONDS` on a thread of its
own, and gives its leases up when it ends, however it ends. A run whose process died (killed,
out of memory, the machine lost) stops beating: it is shown as dead (`harness.store.alive`),
and the next run of its experiments takes its leases and its unfinished jobs over.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Sequence, TextIO

from ..store import HEARTBEAT_SECONDS, Owner, Store

#: the seconds between heartbeats, for tests that watch them (default HEARTBEAT_SECONDS)
INTERVAL_ENV = "HARNESS_HEARTBEAT_SECONDS"


class Heartbeat:
    """This process's leases on `experiments` in `store` (refused while another live process
    holds one: HarnessError), and its heartbeat until `close`."""

    def __init__(self, store: Store, experiments: Sequence[str], stream: TextIO) -> None:
        self.owner = Owner.this_process()
        self.store = store
        for run_id, experiment, pid, host, beat in store.claim(experiments, self.owner):
            last = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(beat)) if beat else "never recorded"
            stream.write(f"{experiment}: run {run_id} died (pid {pid} on {host}, last heartbeat {last}); "
                         "this run takes over its unfinished jobs\n")
        self.interval = float(os.environ.get(INTERVAL_ENV) or HEARTBEAT_SECONDS)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="harness-heartbeat", daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        with Store(self.store.path) as store:  # a connection of its own: SQLite's are per thread
            while not self.stopped.wait(self.interval):
                try:
                    store.beat(self.owner)
                except sqlite3.Error:  # a full disk, a store gone read-only: the run says so; the next beat tries again
                    pass

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        try:
            self.store.release(self.owner)
        except sqlite3.Error:  # left to go stale: the next run takes the leases over once this process is gone
            pass
