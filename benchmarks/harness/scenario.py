"""What a scenario module declares, and the order in which the suite runs them."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clients import CLIENTS
from .measure import Settings

__all__ = ["SCENARIO_MODULES", "Impl", "Point", "Scenario", "load", "size_label"]

Point = dict[str, Any]
#: ``impl(url, point, settings) -> result``; runs in a worker process
Impl = Callable[[str, Point, Settings], dict[str, Any]]

#: every scenario, in run order; each module defines ``SCENARIO``
SCENARIO_MODULES = ("publish", "delivery", "request_reply", "fanout", "queue_group", "threads", "jetstream")


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    #: unit of the headline figure, e.g. "msgs/s" or "us"
    unit: str
    higher_is_better: bool
    #: ``points(quick)``: the parameter points measured, e.g. payload sizes
    points: Callable[[bool], list[Point]]
    label: Callable[[Point], str]
    impls: dict[str, Impl]
    #: why a client cannot do this (the cell says so), keyed by its key ("natspysync") for the
    #: whole scenario or by key and point label ("natspysync/callback") for one point
    unsupported: dict[str, str] = field(default_factory=dict)
    #: client key -> how it was measured where that differs from the obvious
    notes: dict[str, str] = field(default_factory=dict)
    #: key of the headline figure in a result
    headline: str = "median"
    #: why the whole scenario cannot run in this checkout (None: it can)
    unavailable: Callable[[], str | None] = lambda: None
    #: seconds one point may take beyond its repetitions (connections, warm-up, deadlines)
    slack_seconds: float = 30.0

    def __post_init__(self) -> None:
        # a floor (raw sockets) is measured only where a scenario says how; elsewhere it is n/a
        for c in CLIENTS:
            if c.floor and c.key not in self.impls:
                self.unsupported.setdefault(c.key, "no floor is measured for this scenario")


def load(name: str) -> Scenario:
    module = importlib.import_module(f"benchmarks.suite.{name}")
    scenario: Scenario = module.SCENARIO
    return scenario


def size_label(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return f"{n >> 10} KiB"
    return f"{n} B"
