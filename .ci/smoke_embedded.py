"""Boot the embedded mode as a new user would, log in, fetch pages, stop it with Ctrl-C.

Runs `manage.py organism_run` with no DATABASE_URL/REDIS_URL (SQLite, in-process
broker and channel layer) in a throwaway state directory.
"""

from __future__ import annotations

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


def main() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(ORGANISM_STATE_DIR=tempfile.mkdtemp(prefix="organism-smoke-"), ORGANISM_ADMIN_PASSWORD=PASSWORD)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "organism_run", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output: list[str] = []
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
        print(f"smoke: logged in, pages served, {status['candles']} candles, mode {status['mode']}")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            print(out)
            raise SystemExit("organism_run did not stop within 60 s of Ctrl-C") from None
        output.append(out)
    print(output[-1][-3000:])
    if proc.returncode not in (0, -signal.SIGINT):
        raise SystemExit(f"organism_run exited with {proc.returncode}")
    print("smoke: stopped cleanly")


if __name__ == "__main__":
    main()
