"""Latency from a service publishing an event to a dashboard websocket receiving it.

The real stack on loopback: the ASGI application under uvicorn (a subprocess,
session-authenticated websockets, LiveConsumer), Redis as the channel layer,
PostgreSQL for users and sessions (a throwaway database this script creates,
migrates and drops), and 10 clients using the `websockets` library (another
subprocess, like browsers). This process publishes "price.tick" events with
`organism.realtime.publish_now` at a fixed rate to one group all clients
joined; `publish_now` stamps `sent_at`, each client takes receive time minus
`sent_at` on the same machine clock.

Two channel layers are measured in the same run, each with its own server:
  pubsub  channels_redis.pubsub.RedisPubSubChannelLayer (what Organism uses)
  core    channels_redis.core.RedisChannelLayer (the baseline)
Figures: deliveries, losses (the core layer drops messages past its channel
capacity when it falls behind), p50/p95/p99/max latency in ms, the core/pubsub
ratios, the time `publish_now` takes in the publishing service, and that cost
against a fresh event loop per call (publish_now's behaviour before it had one
publisher loop per process). Target: p99 under 10 ms with Redis. The figures
depend on what else the machine runs: note the load average beside them.

    .venv/bin/python bench/realtime.py           # 10 clients, 200 updates/s, 15 s per layer
    .venv/bin/python bench/realtime.py --quick   # 3 s per layer

Environment: DATABASE_URL (a PostgreSQL server; only its address and
credentials are used) and REDIS_URL, defaulting to the local ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DATABASE = "organism_bench_rt"
LAYERS = ("pubsub", "core")
INSTRUMENT_ID = 424_242
END = -1_000_000  # the seq of the last event: clients stop when they see it
COOKIE_ENV = "ORGANISM_BENCH_RT_COOKIE"


@dataclass(frozen=True)
class Plan:
    clients: int
    rate: float
    seconds: float
    warmup_seconds: float

    @property
    def updates(self) -> int:
        return round(self.rate * self.seconds)

    @property
    def warmup_updates(self) -> int:
        return round(self.rate * self.warmup_seconds)


@dataclass(frozen=True)
class LayerResult:
    layer: str
    latencies_ms: np.ndarray
    expected: int
    publish_ms: np.ndarray

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q))


# --- the clients (a subprocess: `realtime.py --clients URL N`) -----------------------------


async def _client(url: str, cookie: str, origin: str, ready: asyncio.Event,
                  connected: list[int]) -> list[float]:
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    async with connect(url, additional_headers=[("Cookie", cookie)], origin=origin,
                       max_queue=None, compression=None) as ws:
        connected.append(1)
        ready.set()
        async for text in ws:
            received = time.time()
            if not text.startswith("{"):
                continue  # an HTML fragment, if a renderer is registered for the event
            message = json.loads(text)
            seq = message["payload"].get("seq")
            if seq == END:
                return latencies
            if seq is not None and seq >= 0:
                latencies.append((received - message["sent_at"]) * 1000)
    return latencies


async def _run_clients(url: str, count: int, timeout: float) -> dict:
    origin = "http://" + urlsplit(url).netloc
    cookie = os.environ[COOKIE_ENV]
    connected: list[int] = []
    events = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(_client(url, cookie, origin, events[i], connected))
             for i in range(count)]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 20)
    print("ready", flush=True)
    results = await asyncio.wait_for(asyncio.gather(*tasks), timeout)
    return {"latencies_ms": [lat for per_client in results for lat in per_client],
            "per_client": [len(r) for r in results]}


def clients_main(url: str, count: int, timeout: float) -> None:
    result = asyncio.run(_run_clients(url, count, timeout))
    print(json.dumps(result), flush=True)


# --- the throwaway database --------------------------------------------------------------


def _database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))


def _admin(server_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(_database_url(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(sql)


def create_database(server_url: str) -> None:
    _admin(server_url, f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
    _admin(server_url, f'CREATE DATABASE "{BENCH_DATABASE}"')


def drop_database(server_url: str) -> None:
    _admin(server_url, f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')


def prepare_django() -> str:
    """Migrate what logging in needs, create a user, return its session cookie header."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    # Websockets need users and sessions only (a session cookie authenticates them).
    for app in ("auth", "sessions"):
        call_command("migrate", app, verbosity=0, interactive=False)
    user = get_user_model().objects.create_user(username="bench-rt",
                                                password=secrets.token_urlsafe(16))
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


# --- one layer: server, clients, publisher -------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited:\n{log_path.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"uvicorn did not listen on {port}:\n{log_path.read_text()[-3000:]}")


def start_server(layer: str, port: int, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "ORGANISM_CHANNEL_LAYER": layer}
    command = [sys.executable, "-m", "uvicorn", "organism.asgi:application", "--host",
               "127.0.0.1", "--port", str(port), "--lifespan", "off", "--ws",
               "websockets-sansio", "--log-level", "warning", "--no-access-log"]
    with log_path.open("w") as log_file:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file,
                                  stderr=subprocess.STDOUT)
    _wait_for_port(port, server, log_path)
    return server


def start_clients(port: int, plan: Plan, cookie: str) -> subprocess.Popen:
    from organism.realtime import group_for_instrument

    url = f"ws://127.0.0.1:{port}/ws/live/?groups={group_for_instrument(INSTRUMENT_ID)}"
    timeout = plan.seconds + plan.warmup_seconds + 30
    clients = subprocess.Popen(
        [sys.executable, __file__, "--clients", url, str(plan.clients), str(timeout)],
        cwd=ROOT, env={**os.environ, COOKIE_ENV: cookie}, stdout=subprocess.PIPE, text=True,
    )
    assert clients.stdout is not None
    line = clients.stdout.readline().strip()
    if line != "ready":
        clients.kill()
        raise RuntimeError(f"the websocket clients did not connect (got {line!r})")
    return clients


def publish_ticks(plan: Plan) -> np.ndarray:
    """Publish warm-up then measured ticks at `plan.rate`; returns publish_now times (ms)."""
    from organism.realtime import group_for_instrument, publish_now

    group = group_for_instrument(INSTRUMENT_ID)
    period = 1.0 / plan.rate
    total = plan.warmup_updates + plan.updates
    costs = np.empty(plan.updates)
    start = time.perf_counter() + 0.05
    for i in range(total):
        delay = start + i * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        seq = i - plan.warmup_updates  # negative during the warm-up
        payload = {"instrument_id": INSTRUMENT_ID, "symbol": "BENCH/USDT",
                   "price": 30_000.0 + i * 0.01, "ts": int(time.time() * 1000), "seq": seq}
        began = time.perf_counter()
        publish_now(group, "price.tick", payload)
        if seq >= 0:
            costs[seq] = (time.perf_counter() - began) * 1000
    time.sleep(0.5)  # let the last ticks land before the end marker
    publish_now(group, "price.tick", {**payload, "seq": END})
    return costs


def measure_layer(layer: str, plan: Plan, cookie: str, workdir: Path) -> LayerResult:
    from django.conf import settings
    from django.test import override_settings

    port = _free_port()
    started = time.monotonic()
    server = start_server(layer, port, workdir / f"uvicorn-{layer}.log")
    progress(f"{layer}: uvicorn listening on 127.0.0.1:{port}", started)
    try:
        config = {**settings.CHANNEL_LAYERS["default"],
                  "BACKEND": settings.REDIS_CHANNEL_LAYERS[layer]}
        with override_settings(CHANNEL_LAYERS={"default": config}):
            clients = start_clients(port, plan, cookie)
            progress(f"{layer}: {plan.clients} websocket clients connected; publishing", started)
            publish_costs = publish_ticks(plan)
            output, _ = clients.communicate(timeout=60)
        if clients.returncode != 0:
            raise RuntimeError(f"the websocket clients failed ({clients.returncode})")
        result = json.loads(output.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(15)
    return LayerResult(layer, np.array(result["latencies_ms"]),
                       plan.updates * plan.clients, publish_costs)


def progress(what: str, since: float) -> None:
    print(f"  [{time.monotonic() - since:5.1f} s] {what}", file=sys.stderr, flush=True)


def measure_publish_cost(calls: int) -> dict[str, np.ndarray]:
    """ms per publish from a plain thread (a Celery worker's situation), pub/sub layer:
    publish_now (one long-lived publisher loop, its Redis connection reused) against
    a fresh event loop per call through async_to_sync (what publish_now did before:
    a new thread, loop and Redis connection for every message)."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.conf import settings
    from django.test import override_settings

    from organism.realtime import group_for_instrument, publish_now

    group = group_for_instrument(INSTRUMENT_ID + 1)  # nobody listens: the sender's cost only
    payload = {"instrument_id": INSTRUMENT_ID + 1, "symbol": "BENCH/USDT", "price": 1.0,
               "ts": 0}
    config = {**settings.CHANNEL_LAYERS["default"],
              "BACKEND": settings.REDIS_CHANNEL_LAYERS["pubsub"]}
    with override_settings(CHANNEL_LAYERS={"default": config}):
        layer = get_channel_layer()
        senders = {
            "publisher loop": lambda: publish_now(group, "price.tick", payload),
            "loop per call": lambda: async_to_sync(layer.group_send)(
                group, {"type": "organism.event", "event": "price.tick", "payload": payload}),
        }
        costs = {}
        for name, send in senders.items():
            times = np.empty(calls)
            for i in range(calls):
                began = time.perf_counter()
                send()
                times[i] = (time.perf_counter() - began) * 1000
                time.sleep(0.002)
            costs[name] = times
    return costs


# --- report ---------------------------------------------------------------------------------


def report(plan: Plan, results: dict[str, LayerResult],
           publish_costs: dict[str, np.ndarray]) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nrealtime: publish_now -> Redis -> uvicorn/LiveConsumer -> websocket client\n"
          f"{os.cpu_count()} CPUs, load average {load}\n"
          f"{plan.clients} clients on one group, {plan.rate:g} updates/s for {plan.seconds:g} s "
          f"per layer ({plan.updates * plan.clients:,} deliveries expected), "
          f"after {plan.warmup_seconds:g} s of warm-up\n")
    print(f"{'layer':<8}{'delivered':>16}{'lost':>7}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'p99 ms':>9}{'max ms':>9}{'publish p50/p99 ms':>21}")
    for r in results.values():
        lost = r.expected - len(r.latencies_ms)
        publish = f"{np.percentile(r.publish_ms, 50):.2f}/{np.percentile(r.publish_ms, 99):.2f}"
        print(f"{r.layer:<8}{len(r.latencies_ms):>8,}/{r.expected:<7,}{lost:>7,}"
              f"{r.percentile(50):>9.2f}{r.percentile(95):>9.2f}{r.percentile(99):>9.2f}"
              f"{r.latencies_ms.max():>9.2f}{publish:>21}")
    if "pubsub" in results and "core" in results:
        pubsub, core = results["pubsub"], results["core"]
        ratios = "  ".join(f"p{q}: {core.percentile(q) / pubsub.percentile(q):.2f}x"
                           for q in (50, 95, 99))
        print(f"\ncore / pubsub latency ratio  {ratios}")
    if "pubsub" in results:
        p99 = results["pubsub"].percentile(99)
        verdict = "met" if p99 < 10 else "NOT met"
        print(f"target p99 < 10 ms with the pub/sub layer: {verdict} ({p99:.2f} ms)")
    calls = len(next(iter(publish_costs.values())))
    print(f"\npublishing cost from a plain thread, pub/sub layer ({calls} calls each)")
    for name, times in publish_costs.items():
        print(f"  {name:<16} p50 {np.percentile(times, 50):6.2f} ms   "
              f"p99 {np.percentile(times, 99):6.2f} ms")
    loop, fresh = publish_costs["publisher loop"], publish_costs["loop per call"]
    print(f"  loop per call / publisher loop, p50: "
          f"{np.percentile(fresh, 50) / np.percentile(loop, 50):.1f}x")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per layer")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--clients-count", type=int, default=10, dest="client_count")
    parser.add_argument("--rate", type=float, default=200.0, help="updates per second")
    parser.add_argument("--layers", default=",".join(LAYERS))
    parser.add_argument("--clients", nargs=3, metavar=("URL", "N", "TIMEOUT"),
                        help=argparse.SUPPRESS)  # internal: run the websocket clients
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.clients:
        url, count, timeout = args.clients
        clients_main(url, int(count), float(timeout))
        return
    seconds = args.seconds or (3.0 if args.quick else 15.0)
    plan = Plan(clients=args.client_count, rate=args.rate, seconds=seconds,
                warmup_seconds=0.5 if args.quick else 1.0)
    layers = [name for name in args.layers.split(",") if name]
    if unknown := set(layers) - set(LAYERS):
        raise SystemExit(f"unknown layers: {', '.join(sorted(unknown))}")
    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/organism")
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "organism.settings",
        "DATABASE_URL": _database_url(server_url, BENCH_DATABASE),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "ORGANISM_CHANNEL_PREFIX": f"bench-rt-{os.getpid()}-",
        "ORGANISM_LOG_LEVEL": "WARNING",
    })
    started = time.monotonic()
    create_database(server_url)
    try:
        cookie = prepare_django()
        progress(f"database {BENCH_DATABASE} created and migrated", started)
        with tempfile.TemporaryDirectory(prefix="bench-rt-") as workdir:
            results = {layer: measure_layer(layer, plan, cookie, Path(workdir))
                       for layer in layers}
        publish_costs = measure_publish_cost(100 if args.quick else 300)
        report(plan, results, publish_costs)
    finally:
        forget_redis_keys()
        from django.db import connections

        connections.close_all()
        drop_database(server_url)


def forget_redis_keys() -> None:
    """Remove what the run left in Redis under its own prefix (cache counters, groups)."""
    import redis

    prefix = os.environ["ORGANISM_CHANNEL_PREFIX"]
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


if __name__ == "__main__":
    main()
