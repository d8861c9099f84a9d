"""Boot the embedded mode as a new user would, log in, fetch pages, stop it with Ctrl-C.

Runs `manage.py organism_run` with no DATABASE_URL/REDIS_URL (SQLite, in-process
broker and channel layer) in a throwaway state directory, in its own process
group with its output in a file: whatever happens, this script ends (a process
left holding a pipe cannot keep it waiting) and leaves no process behind.
Embedded mode must stop within the grace it is given and start no child process.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "smoke-test-password-42"
GRACE = 20  # organism_run --shutdown-grace


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"organism_run exited early with {proc.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def group_members(pgid: int) -> list[str]:
    """`pid command` of the live processes in the process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                members.append(f"{entry.name} {cmd.strip()}")
    return members


def main() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    state = tempfile.mkdtemp(prefix="organism-smoke-")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(ORGANISM_STATE_DIR=state, ORGANISM_ADMIN_PASSWORD=PASSWORD)
    log_path = Path(state) / "organism_run.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "organism_run", "--port", str(port),
             "--shutdown-grace", str(GRACE)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
    failure = None
    try:
        wait_for(f"{base}/accounts/login/", proc, timeout=300)
        s = requests.Session()
        login = s.get(f"{base}/accounts/login/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        r = s.post(f"{base}/accounts/login/", data={"username": "admin", "password": PASSWORD,
                   "csrfmiddlewaretoken": token}, headers={"Referer": f"{base}/accounts/login/"}, timeout=10)
        assert r.status_code == 200 and "Dashboard" in r.text, f"login failed: {r.status_code}"
        for path in ("/", "/markets/", "/api/v1/status"):
            page = s.get(base + path, timeout=30)
            assert page.status_code == 200, f"{path} answered {page.status_code}"
        status = s.get(f"{base}/api/v1/status", timeout=10).json()
        assert status["mode"] == "embedded", status
        assert status["candles"] > 0, f"no sample data loaded: {status}"
        extra = [m for m in group_members(proc.pid) if not m.startswith(f"{proc.pid} ")]
        assert not extra, f"embedded mode started child processes: {extra}"
        print(f"smoke: logged in, pages served, {status['candles']} candles, mode {status['mode']}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=GRACE + 30)
        except subprocess.TimeoutExpired:
            failure = f"organism_run did not stop within {GRACE + 30} s of Ctrl-C"
        left = group_members(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        print(log_path.read_text()[-3000:])
        if left and not failure:
            failure = f"processes left behind after organism_run stopped: {left}"
    if failure:
        raise SystemExit(failure)
    if proc.returncode not in (0, -signal.SIGINT):
        raise SystemExit(f"organism_run exited with {proc.returncode}")
    print("smoke: stopped cleanly")


if __name__ == "__main__":
    main()
