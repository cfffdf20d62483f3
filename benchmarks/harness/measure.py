"""How every figure is taken: warm-up, a calibrated count, repetitions, median and spread.

A scenario hands over ``run_once(count)``, which does its own set-up-free timed part and
returns what it measured. :func:`measure_throughput` first runs it on small counts (the warm-up,
which also estimates the rate), then picks the count that lasts about ``rep_seconds`` (capped by
``max_count``, as ``go test -bench`` picks ``b.N``), then runs ``reps`` repetitions. Every loop
here is bounded by a count; the time a repetition may take is bounded by the scenario's deadline.
Clocks are ``time.perf_counter`` (monotonic, the finest available).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "Incomplete",
    "Settings",
    "clock",
    "measure_latency",
    "measure_throughput",
    "merge_rounds",
    "latency_summary",
    "percentile",
    "summarize",
]

clock = time.perf_counter


class Incomplete(RuntimeError):
    """A repetition did not finish within its deadline (e.g. messages never all delivered)."""


@dataclass(frozen=True)
class Settings:
    """How long and how often each point is measured. Serialised to the worker as JSON."""

    reps: int = 5
    rep_seconds: float = 0.5
    warmup_seconds: float = 0.2
    max_count: int = 2_000_000
    min_count: int = 1
    #: deadline for one repetition's wait (delivery, replies), past which it is abandoned
    rep_deadline: float = 20.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Settings:
        return cls(**data)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of already sorted values, interpolating linearly."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] * (1.0 - frac) + sorted_values[hi] * frac


def summarize(samples: Sequence[float]) -> dict[str, Any]:
    """Median, min, max and relative spread ((max - min) / median, in %) of the repetitions."""
    med = statistics.median(samples)
    lo, hi = min(samples), max(samples)
    return {
        "median": med,
        "min": lo,
        "max": hi,
        "spread_pct": 100.0 * (hi - lo) / med if med else math.nan,
        "samples": list(samples),
    }


def _calibrate(run_once: Callable[[int], float], s: Settings, first: int) -> int:
    """Warm up on growing counts; return the count one repetition should use."""
    count = max(s.min_count, min(first, s.max_count))
    spent = 0.0
    per_item = math.nan
    for _ in range(12):  # x4 per step: 12 steps cover 1 .. 16M
        elapsed = run_once(count)
        spent += elapsed
        per_item = elapsed / count
        if count >= s.max_count or elapsed >= s.rep_seconds / 4 or spent >= s.warmup_seconds:
            break
        count = min(s.max_count, count * 4)
    if not per_item > 0:
        return s.max_count
    return max(s.min_count, min(s.max_count, round(s.rep_seconds / per_item)))


def measure_throughput(run_once: Callable[[int], float], s: Settings, first: int = 100) -> dict[str, Any]:
    """``run_once(count)`` returns the seconds ``count`` items took; the result is items/s."""
    count = _calibrate(run_once, s, first)
    rates = []
    for _ in range(s.reps):
        elapsed = run_once(count)
        rates.append(count / elapsed if elapsed > 0 else math.inf)
    out = summarize(rates)
    out["count"] = count
    return out


def measure_latency(run_once: Callable[[int], list[float]], s: Settings, first: int = 20) -> dict[str, Any]:
    """``run_once(count)`` returns ``count`` round-trip times in seconds; see :func:`latency_summary`.

    The raw times (``raw_us``, one list per repetition) travel with the result so that rounds
    run in different processes can be pooled; the runner drops them from results.json.
    """
    count = _calibrate(lambda n: sum(run_once(n)), s, first)
    raw = [[round(t * 1e6, 2) for t in run_once(count)] for _ in range(s.reps)]
    out = latency_summary(raw)
    out["count"] = count
    out["raw_us"] = raw
    return out


def latency_summary(raw_us: Sequence[Sequence[float]]) -> dict[str, Any]:
    """Percentiles pooled over every repetition (p99.9 needs thousands of samples); the
    per-repetition medians and sequential rates give the spread between repetitions."""
    pooled = sorted(t for rep in raw_us for t in rep)
    p50s = [percentile(sorted(rep), 50) for rep in raw_us]
    rates = [len(rep) / (sum(rep) / 1e6) if sum(rep) > 0 else math.inf for rep in raw_us]
    out: dict[str, Any] = {
        "n_samples": len(pooled),
        "p50_us": percentile(pooled, 50),
        "p90_us": percentile(pooled, 90),
        "p99_us": percentile(pooled, 99),
        "p999_us": percentile(pooled, 99.9),
        "mean_us": statistics.fmean(pooled),
        "rate_per_s": statistics.median(rates),
    }
    for key, values in (("p50_us", p50s), ("rate_per_s", rates)):
        out[f"{key}_samples"] = values
        out[f"{key}_min"] = min(values)
        out[f"{key}_max"] = max(values)
    return out


def merge_rounds(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One result from the rounds of a point (each from its own worker process), as if their
    repetitions had run in one: samples are pooled and the figures recomputed."""
    if len(rounds) == 1:
        return dict(rounds[0])
    out = dict(rounds[-1])
    out["counts"] = [r.get("count") for r in rounds]
    out["seconds"] = sum(r.get("seconds", 0.0) for r in rounds)
    if all("raw_us" in r for r in rounds):
        raw = [rep for r in rounds for rep in r["raw_us"]]
        out.update(latency_summary(raw))
        out["raw_us"] = raw
    elif all("samples" in r for r in rounds):
        out.update(summarize([v for r in rounds for v in r["samples"]]))
        if "payload" in out:
            out["mb_per_s"] = out["median"] * out["payload"] / 1e6
    for key in ("share_min_pct",):
        if all(key in r for r in rounds):
            out[key] = min(r[key] for r in rounds)
    for key in ("share_max_pct",):
        if all(key in r for r in rounds):
            out[key] = max(r[key] for r in rounds)
    return out
