"""A small, quiet, loopback-only Ray for the tests (../shared/notes/ray.md): import before Ray starts.

Usage stats and metrics off, every Ray process on 127.0.0.1, token auth off, a per-run temp dir (a
killed earlier run's `ray_current_cluster` file cannot capture `ray.init`), fast health checks (a
removed node is declared dead in ~3 s), and small object stores."""

from __future__ import annotations

import os
import tempfile

ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_enable_metrics_collection": "0",
    "RAY_DEDUP_LOGS": "0",
    "RAY_BACKEND_LOG_LEVEL": "warning",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}
for _k, _v in ENV.items():
    os.environ.setdefault(_k, _v)
os.environ.setdefault("RAY_TMPDIR", tempfile.mkdtemp(prefix="gemmadoc-ray-"))

STORE = 80 * 2**20
QUIET = dict(include_dashboard=False, log_to_driver=False)


def ray_processes() -> list:
    """The processes of this run's Ray instances (their command lines name $RAY_TMPDIR), with children."""
    import psutil

    marker = os.path.join(os.environ["RAY_TMPDIR"], "ray") + os.sep
    found = {}
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if p.pid != os.getpid() and any(marker in a for a in (p.info["cmdline"] or [])):
                found[p.pid] = p
                for child in p.children(recursive=True):
                    found.setdefault(child.pid, child)
        except psutil.Error:
            continue
    return [p for p in found.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def wait_no_ray_processes(timeout: float = 30.0) -> list:
    """Wait until this run's Ray processes are gone; returns those still left."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = ray_processes()
        if not left:
            return []
        time.sleep(0.2)
    return ray_processes()
