"""Services interop with independent v1 implementations: nats-py's async ``nats.micro``, and a Go
agent speaking v1 on plain nats.go (tests/go_agent/main.go), each way."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import nats
import pytest
from nats.micro.request import Request as NatsRequest
from nats.micro.service import ServiceInfo, ServicePing, ServiceStats
from test_go_interop import go_agent  # noqa: F401 - the session's Go agent build, shared

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer
from beluga_nats_sync.services import ServiceError, discover

from helpers import wait_for

# nats.micro stamps its start time with datetime.utcnow(), deprecated from Python 3.12
pytestmark = pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning")


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


def our_service(nc: bns.Client, name: str) -> bns.Service:
    svc = nc.add_service(name=name, version="1.4.0", description="ours", metadata={"lang": "python"})

    def add(req: bns.ServiceRequest) -> None:
        req.respond(str(sum(json.loads(req.data))).encode(), headers={"x-from": "python"})

    def fail(req: bns.ServiceRequest) -> None:
        raise ServiceError("418", "python says no", b"tea")

    svc.add_endpoint("add", add, subject=f"{name}.add", metadata={"k": "v"})
    svc.add_group(name).add_endpoint("fail", fail)
    return svc


# -- nats-py's nats.micro ---------------------------------------------------------------------------


class NatsPyService:
    """A nats.micro service on its own asyncio loop, in a thread, until ``stop()``."""

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name = url, name
        self.ready = threading.Event()
        self.id = ""
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="natspy-micro", daemon=True)
        self._thread.start()
        assert self.ready.wait(10.0), "the nats.micro service did not start"
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        nc = await nats.connect(self.url)

        async def double(req: NatsRequest) -> None:
            await req.respond(str(2 * int(req.data)).encode())

        async def broken(req: NatsRequest) -> None:
            raise ValueError("natspy broke")

        svc = await nats.micro.add_service(
            nc, name=self.name, version="2.0.0", description="nats-py", metadata={"lang": "natspy"}
        )
        await svc.add_endpoint(name="double", handler=double, subject=f"{self.name}.double")
        await svc.add_group(name=self.name).add_endpoint(name="broken", handler=broken)
        self.id = svc.id
        self.ready.set()
        await self._done.wait()
        await svc.stop()
        await nc.close()

    def stop(self) -> None:
        if self._loop is not None and self._done is not None:
            self._loop.call_soon_threadsafe(self._done.set)
        self._thread.join(10.0)


@pytest.fixture
def natspy_service(nats_server: EmbeddedServer) -> Iterator[NatsPyService]:
    svc = NatsPyService(nats_server.url, unique("natspy"))
    yield svc
    svc.stop()


def test_we_discover_and_call_a_nats_py_micro_service(
    natspy_service: NatsPyService, client: bns.Client, nats_server: EmbeddedServer
) -> None:
    name = natspy_service.name
    with our_service(client, unique("ours")) as ours:
        everyone = {d["id"]: d for d in discover(client, "PING", timeout=3.0, stall=1.0)}
        assert natspy_service.id in everyone and ours.id in everyone  # one discovery finds both kinds
        assert everyone[natspy_service.id]["name"] == name

    (info,) = discover(client, "INFO", name, max_messages=1, timeout=5.0)
    assert info["id"] == natspy_service.id and info["type"] == "io.nats.micro.v1.info_response"
    assert info["version"] == "2.0.0" and info["metadata"] == {"lang": "natspy"}
    subjects = {e["name"]: e["subject"] for e in info["endpoints"]}
    assert subjects == {"double": f"{name}.double", "broken": f"{name}.broken"}
    assert {e["queue_group"] for e in info["endpoints"]} == {"q"}

    assert client.request(subjects["double"], b"21", timeout=5.0).data == b"42"
    err = client.request(subjects["broken"], b"", timeout=5.0)
    assert err.headers is not None and err.headers["Nats-Service-Error-Code"] == "500"
    assert "natspy broke" in err.headers["Nats-Service-Error"]

    def counted() -> dict[str, dict[str, Any]]:
        (stats,) = discover(client, "STATS", name, natspy_service.id, timeout=5.0)
        return {e["name"]: e for e in stats["endpoints"]}

    wait_for(lambda: counted()["broken"]["num_errors"] == 1, what="nats.micro to count the error")
    assert counted()["double"]["num_requests"] == 1
    # and its documents display like ours
    assert natspy_service.id in discover(client, "STATS", name, natspy_service.id, timeout=5.0)._repr_html_()


def test_nats_py_reads_and_calls_our_service(nats_server: EmbeddedServer, client: bns.Client) -> None:
    name = unique("ours")
    svc = our_service(client, name)

    async def probe() -> dict[str, Any]:
        nc = await nats.connect(nats_server.url)
        try:
            ping = ServicePing.from_dict(json.loads((await nc.request(f"$SRV.PING.{name}", timeout=5)).data))
            info = ServiceInfo.from_dict(json.loads((await nc.request(f"$SRV.INFO.{name}", timeout=5)).data))
            ok = await nc.request(f"{name}.add", b"[1, 2, 3]", timeout=5)
            bad = await nc.request(f"{name}.fail", b"", timeout=5)
            subject = f"$SRV.STATS.{name}.{svc.id}"
            raw = (await nc.request(subject, timeout=5)).data
            for _ in range(250):  # counted just after each answer left: ask until both show
                if sum(e["num_requests"] for e in json.loads(raw)["endpoints"]) == 2:
                    break
                await asyncio.sleep(0.02)
                raw = (await nc.request(subject, timeout=5)).data
            stats = ServiceStats.from_dict(json.loads(raw))
            return {"ping": ping, "info": info, "ok": ok, "bad": bad, "stats": stats}
        finally:
            await nc.close()

    try:
        got = asyncio.run(probe())
    finally:
        svc.stop()
    ping, info, stats = got["ping"], got["info"], got["stats"]
    assert (ping.id, ping.name, ping.version, ping.metadata) == (svc.id, name, "1.4.0", {"lang": "python"})
    assert ping.type == "io.nats.micro.v1.ping_response"
    assert info.description == "ours" and [(e.name, e.subject, e.queue_group, e.metadata) for e in info.endpoints] == [
        ("add", f"{name}.add", "q", {"k": "v"}),
        ("fail", f"{name}.fail", "q", {}),
    ]
    assert got["ok"].data == b"6" and got["ok"].headers == {"x-from": "python"}
    assert got["bad"].data == b"tea"
    assert got["bad"].headers == {"Nats-Service-Error": "python says no", "Nats-Service-Error-Code": "418"}
    assert abs(stats.started - datetime.now(timezone.utc).replace(tzinfo=None)).total_seconds() < 60
    counts = {e.name: (e.num_requests, e.num_errors, e.last_error) for e in stats.endpoints}
    assert counts == {"add": (1, 0, ""), "fail": (1, 1, "418:python says no")}


# -- a Go agent on plain nats.go -------------------------------------------------------------------


@pytest.fixture
def go_service(go_agent: str, nats_server: EmbeddedServer) -> Iterator[tuple[str, str]]:  # noqa: F811
    name, prefix = unique("go-agent"), unique("go")
    p = subprocess.Popen(
        [go_agent, "service", nats_server.url, name, prefix], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
        yield name, prefix
    finally:
        p.kill()
        p.communicate(timeout=5.0)  # reaps it and closes its pipes


def test_we_discover_and_call_a_go_service(go_service: tuple[str, str], client: bns.Client) -> None:
    name, prefix = go_service
    (ping,) = discover(client, "PING", name, max_messages=1, timeout=5.0)
    assert ping["type"] == "io.nats.micro.v1.ping_response" and ping["metadata"] == {"lang": "go"}
    (info,) = discover(client, "INFO", name, ping["id"], timeout=5.0)
    assert info["description"] == "a Go agent"
    assert [(e["name"], e["subject"], e["queue_group"]) for e in info["endpoints"]] == [
        ("echo", f"{prefix}.echo", "q"),
        ("fail", f"{prefix}.fail", "q"),
    ]
    assert client.request(f"{prefix}.echo", b"hello", timeout=5.0).data == b"HELLO"
    err = client.request(f"{prefix}.fail", b"", timeout=5.0)
    assert err.data == b"details"
    assert err.headers == {"Nats-Service-Error": "go says no", "Nats-Service-Error-Code": "422"}

    def stats() -> dict[str, Any]:
        (doc,) = discover(client, "STATS", name, ping["id"], timeout=5.0)
        return doc

    wait_for(lambda: sum(e["num_requests"] for e in stats()["endpoints"]) == 2, what="the Go agent's counters")
    doc = stats()
    fail_stats = doc["endpoints"][1]
    assert (fail_stats["num_errors"], fail_stats["last_error"]) == (1, "422:go says no")
    assert fail_stats["processing_time"] > 0  # nanoseconds, as Go's time.Duration marshals
    assert doc["started"].endswith("Z")


def test_go_discovers_and_calls_our_service(go_agent: str, make_client: Any) -> None:  # noqa: F811
    name = unique("ours")
    services = [our_service(make_client(), name) for _ in range(2)]
    infos = {svc.id: svc.info() for svc in services}
    try:
        out = subprocess.run(
            [go_agent, "service-client", services[0].client.connected_url or "", name, "2"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        for svc in services:
            svc.stop()
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    # Go decoded every document with DisallowUnknownFields into the v1 structs
    assert {p["id"] for p in seen["pings"]} == {svc.id for svc in services}
    assert {p["type"] for p in seen["pings"]} == {"io.nats.micro.v1.ping_response"}
    info = seen["info"]
    assert info == infos[info["id"]]
    assert seen["calls"]["add"] == {"data": "3", "error": "", "code": ""}
    assert seen["calls"]["fail"] == {"data": "tea", "error": "python says no", "code": "418"}
    assert {s["id"] for s in seen["stats"]} == {svc.id for svc in services}
    totals: dict[str, list[int]] = {}
    for doc in seen["stats"]:
        for e in doc["endpoints"]:
            row = totals.setdefault(e["name"], [0, 0])
            row[0] += e["num_requests"]
            row[1] += e["num_errors"]
            if e["num_errors"]:
                assert e["last_error"] == "418:python says no"
    assert totals == {"add": [1, 0], "fail": [1, 1]}
    for ms in seen["started_unix_ms"]:  # Go parsed our RFC 3339 start times
        assert abs(ms / 1000 - time.time()) < 60
