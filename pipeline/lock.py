"""One run at a time per output folder: an advisory lock (flock) on `OUT/.gemmadoc.lock`, which names
its holder (host, pid, start). The kernel releases it when the holder dies, even by kill -9; the next
run then takes it over and says whose it was."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path

LOCK_NAME = ".gemmadoc.lock"


class OutputLocked(Exception):
    """Another live run holds the output folder."""


class OutputLock:
    def __init__(self, out: Path, wait_s: float = 0.0):
        self.path = Path(out) / LOCK_NAME
        self.wait_s = wait_s
        self.fd: int | None = None
        self.previous: dict | None = None  # what a dead holder left, when this run took its lock over

    def acquire(self) -> "OutputLock":
        """Take the lock, waiting up to `wait_s`; raises OutputLocked naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read(fd)
                    os.close(fd)
                    raise OutputLocked(f"{self.path.parent} is in use by another run: {describe(holder)}; "
                                       "wait for it, or pass --wait-lock SECONDS") from None
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        self.previous = _read(fd) or None  # a holder that died without releasing
        me = {"host": socket.gethostname(), "pid": os.getpid(),
              "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me).encode(), 0)  # a full disk fails here: let go, or the lock stays held
        except OSError:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)  # an empty lock file: nobody holds it, nothing to take over
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}


def describe(holder: dict | None) -> str:
    if not holder:
        return "a run whose details are unknown"
    return f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started_at')}"
