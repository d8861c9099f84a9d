"""Serve web, worker and scheduler from one command.

Embedded mode (no REDIS_URL): one process, no child processes. The ASGI server
(uvicorn) runs on a background thread with its own event loop, which owns the
in-memory channel layer; beat runs on a thread too (Celery's default embedded
beat is a forked process: a fork of a threaded process can inherit a held lock
and hang, it outlives a killed parent, and it would not share the in-memory
broker); the Celery worker runs on the main thread over the in-memory broker, so
tasks, websocket events and pages share one process and need no server.

Ctrl-C stops the worker (warm shutdown: running tasks finish), then beat and the
web server. A task that is still running `shutdown_grace` seconds after Ctrl-C
(a thread cannot be interrupted) is named on stderr and the process exits with
status 3; what it was doing is recovered as after a killed worker (sessions
resume from their journal on the next start).

Distributed mode (REDIS_URL set): the same command supervises child processes
(uvicorn, one Celery worker for every queue, beat with the database scheduler)
and stops them all on Ctrl-C or when any of them dies.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from organism import realtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    worker_concurrency: int = 4
    shutdown_grace: float = 30.0  # seconds running tasks get after Ctrl-C


class WebServerThread:
    """uvicorn on its own thread and event loop."""

    def __init__(self, options: RunOptions):
        import uvicorn

        config = uvicorn.Config(
            "organism.asgi:application",
            host=options.host,
            port=options.port,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
        )
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="web", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        realtime.bind_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.serve())
        finally:
            realtime.bind_event_loop(None)

    def start(self, timeout: float = 20.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web server did not start (is the port in use?)")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


SHUTDOWN_TIMEOUT_EXIT = 3


class ShutdownWatchdog:
    """Ends the process `grace` seconds after a shutdown began unless it ended by then.

    `running()` names the tasks still running; `exit(status)` ends the process
    (os._exit: interpreter shutdown would join the pool's threads and wait on).
    """

    def __init__(self, grace: float, running: Callable[[], list[str]],
                 exit: Callable[[int], None] = os._exit):
        self.grace = grace
        self.running = running
        self.exit = exit
        self.done = threading.Event()
        self.thread: threading.Thread | None = None

    def arm(self, **_signal_kwargs) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._wait, name="shutdown-watchdog", daemon=True)
            self.thread.start()

    def disarm(self) -> None:
        self.done.set()

    def _wait(self) -> None:
        if self.done.wait(self.grace):
            return
        names = ", ".join(self.running()) or "none reported"
        print(f"Organism: still running {self.grace:g} s after the stop was asked for "
              f"(tasks: {names}); exiting without them.", file=sys.stderr, flush=True)
        self.exit(SHUTDOWN_TIMEOUT_EXIT)


def _running_tasks() -> list[str]:
    from celery.worker import state

    return sorted(f"{r.task_name}[{r.id}]" for r in list(state.active_requests))


def run_embedded(options: RunOptions) -> None:
    from celery import signals
    from celery.beat import EmbeddedService

    from organism.celery import app

    web = WebServerThread(options)
    web.start()
    print(f"Organism is serving http://{options.host}:{options.port}/  (Ctrl-C to stop)", flush=True)
    beat = EmbeddedService(app, thread=True, scheduler_cls=settings.CELERY_BEAT_SCHEDULER)
    worker = app.Worker(
        hostname=f"embedded@{socket.gethostname()}",
        pool="threads",
        concurrency=options.worker_concurrency,
        queues=list(settings.ORGANISM_QUEUES),
        loglevel="WARNING",
        without_mingle=True,
        without_gossip=True,
        optimization="fair",
    )
    watchdog = ShutdownWatchdog(options.shutdown_grace, _running_tasks)
    signals.worker_shutting_down.connect(watchdog.arm, weak=False)
    beat.start()
    try:
        worker.start()  # blocks until Ctrl-C / SIGTERM (warm shutdown)
    finally:
        watchdog.arm()  # also when the worker stopped on its own
        beat.stop()
        web.stop()
        watchdog.disarm()
        signals.worker_shutting_down.disconnect(watchdog.arm)
        print("Organism stopped.", flush=True)


def _child_commands(options: RunOptions) -> dict[str, list[str]]:
    python = sys.executable
    queues = ",".join(settings.ORGANISM_QUEUES)
    return {
        "web": [python, "-m", "uvicorn", "organism.asgi:application", "--host", options.host,
                "--port", str(options.port), "--lifespan", "off", "--ws", "websockets-sansio"],
        "worker": [python, "-m", "celery", "-A", "organism", "worker", "-Q", queues,
                   "-c", str(options.worker_concurrency), "-n", "worker@%h", "--loglevel", "INFO"],
        "beat": [python, "-m", "celery", "-A", "organism", "beat", "--loglevel", "INFO",
                 "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"],
    }


def run_supervised(options: RunOptions) -> None:
    children: dict[str, subprocess.Popen] = {}
    stopping = threading.Event()

    def stop(*_):
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    env = dict(os.environ)
    for name, cmd in _child_commands(options).items():
        children[name] = subprocess.Popen(cmd, env=env, start_new_session=True)
    print(f"Organism is serving http://{options.host}:{options.port}/  (Ctrl-C to stop)", flush=True)
    try:
        while not stopping.is_set():
            for name, proc in children.items():
                if proc.poll() is not None:
                    log.error("%s exited with %s; stopping everything", name, proc.returncode)
                    stopping.set()
            stopping.wait(0.5)
    finally:
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        print("Organism stopped.", flush=True)
