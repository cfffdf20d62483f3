"""Ratios, targets and the terminal table, all computed from the results document."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .clients import CLIENTS, OURS, by_key

__all__ = [
    "FLOOR_AIM",
    "TARGETS",
    "Target",
    "compute_ratios",
    "compute_targets",
    "floor_ratios",
    "fmt_value",
    "headline_of",
    "render",
]


@dataclass(frozen=True)
class Target:
    title: str
    scenario: str
    params: dict[str, Any]
    vs_async: float  #: bound on this / each async peer (nats-py async, nats-core)
    vs_sync: float | None  #: bound on this / the best sync peer (None: no sync peer can do it)


#: the bound is a floor where higher is better and a ceiling for latency; "never the slower
#: choice": at or past the async clients, and well past the sync ones where they can be
TARGETS = (
    Target("publish, 1 thread, 16 B", "publish", {"payload": 16}, 1.0, 10.0),
    Target("publish -> callback delivery", "delivery", {"mode": "callback"}, 1.0, 10.0),
    Target("request/reply p50 latency", "request_reply", {"payload": 16}, 1.0, 1.0),
    Target("64 KiB payload MB/s", "publish", {"payload": 1 << 16}, 1.0, 1.0),
    Target("1 MiB payload MB/s", "publish", {"payload": 1 << 20}, 1.0, 1.0),
    Target("JetStream publish with ack", "jetstream", {"payload": 16}, 1.0, None),
)
#: the async peers each target is judged against, with the column that shows them
AGAINST = (("nats-py async", "natspy"), ("nats-core", "natscore"), ("best sync peer", None))
_SYNC_PEERS = tuple(c.key for c in CLIENTS if c.sync and c.key != OURS)


def headline_of(scenario: dict[str, Any], result: dict[str, Any] | None) -> float | None:
    """The figure ratios are taken of, or None when the cell has none."""
    if not result or result.get("status") != "ok":
        return None
    value = result.get(scenario["headline"])
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) and value > 0 else None


def _bounds(scenario: dict[str, Any], result: dict[str, Any]) -> tuple[float, float] | None:
    key = scenario["headline"]
    lo, hi = (
        (result.get("min"), result.get("max"))
        if key == "median"
        else (
            result.get(f"{key}_min"),
            result.get(f"{key}_max"),
        )
    )
    return (lo, hi) if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) else None


def _best_sync(scenario: dict[str, Any], point: dict[str, Any]) -> tuple[str, float] | None:
    best: tuple[str, float] | None = None
    for key in _SYNC_PEERS:
        v = headline_of(scenario, point["results"].get(key))
        if v is None:
            continue
        better = best is None or (v > best[1] if scenario["higher_is_better"] else v < best[1])
        if better:
            best = (key, v)
    return best


def compute_ratios(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """this / peer for every point where both have a figure; also this / best sync peer."""
    rows = []
    for sc in doc["scenarios"]:
        for point in sc["points"]:
            ours = headline_of(sc, point["results"].get(OURS))
            if ours is None:
                continue
            for c in CLIENTS:
                if c.key == OURS:
                    continue
                peer = headline_of(sc, point["results"].get(c.key))
                if peer is not None:
                    rows.append(dict(scenario=sc["name"], point=point["label"], peer=c.key, ratio=ours / peer))
            best = _best_sync(sc, point)
            if best is not None:
                row = dict(scenario=sc["name"], point=point["label"], peer="best-sync", best=best[0])
                rows.append(dict(row, ratio=ours / best[1]))
    return rows


def _find_point(doc: dict[str, Any], name: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    for sc in doc["scenarios"]:
        if sc["name"] != name:
            continue
        for point in sc["points"]:
            if all(point["params"].get(k) == v for k, v in params.items()):
                return sc, point
    return None


def compute_targets(doc: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for t in TARGETS:
        found = _find_point(doc, t.scenario, t.params)
        for against, async_key in AGAINST:
            bound = t.vs_async if async_key is not None else t.vs_sync
            if bound is None:
                continue
            row: dict[str, Any] = dict(target=t.title, scenario=t.scenario, against=against, bound=bound)
            if found is None:
                rows.append(dict(row, ratio=None, met=None, note="not measured"))
                continue
            sc, point = found
            row["op"] = ">=" if sc["higher_is_better"] else "<="
            ours = headline_of(sc, point["results"].get(OURS))
            if async_key is not None:
                peer_key: str | None = async_key
                peer = headline_of(sc, point["results"].get(async_key))
            else:
                best = _best_sync(sc, point)
                peer_key, peer = (best[0], best[1]) if best else (None, None)
            if ours is None or peer is None:
                status = (point["results"].get(peer_key) or {}).get("status") if peer_key else None
                note = status if ours is not None and status in ("n/a", "skipped") else "no figure for both"
                rows.append(dict(row, ratio=None, met=None, note=note))
                continue
            ratio = ours / peer
            met = ratio >= bound if sc["higher_is_better"] else ratio <= bound
            rows.append(dict(row, ratio=ratio, met=met, peer=peer_key))
    return rows


def fmt_value(value: float, unit: str) -> str:
    if unit == "us":
        return f"{value:,.0f} us"
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= div:
            return f"{value / div:.3g}{suffix} {unit}"
    return f"{value:.3g} {unit}"


def _cell(sc: dict[str, Any], point: dict[str, Any], key: str, ours: float | None) -> str:
    res = point["results"].get(key) or {}
    status = res.get("status")
    if status != "ok":
        return {"n/a": "n/a", "skipped": "skipped"}.get(str(status), "error")
    peer = headline_of(sc, res)
    if ours is None or peer is None:
        return "-"
    return f"{ours / peer:.2f}x"


def _mixed_interpreters(doc: dict[str, Any]) -> list[str]:
    """Where ours and a peer ran under different Python versions: their ratios compare both."""

    def version(key: str) -> str | None:
        py = (doc["clients"].get(key) or {}).get("python") or {}
        return py.get("version")

    ours = version(OURS)
    out = []
    for key, info in doc["clients"].items():
        theirs = version(key)
        if key != OURS and info.get("available") and ours and theirs and theirs != ours:
            out.append(
                f"{by_key(key).label} ran on Python {theirs}, {by_key(OURS).label} on {ours}: "
                "its ratios compare the interpreters too"
            )
    return out


#: where this library should stand against the floor (issue 20: request p50 <= 1.5x raw sockets)
FLOOR_AIM = 1.5


def floor_ratios(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """This / the floor wherever a floor was measured, with the spread of both figures."""
    rows = []
    floors = [c for c in CLIENTS if c.floor]
    for sc in doc["scenarios"]:
        for point in sc["points"]:
            ours_res = point["results"].get(OURS)
            ours = headline_of(sc, ours_res)
            for c in floors:
                floor_res = point["results"].get(c.key)
                floor = headline_of(sc, floor_res)
                if ours is None or floor is None:
                    continue
                rows.append(
                    dict(
                        scenario=sc["name"],
                        title=sc["title"],
                        point=point["label"],
                        floor=c.key,
                        ours=ours,
                        floor_value=floor,
                        ours_bounds=_bounds(sc, ours_res or {}),
                        floor_bounds=_bounds(sc, floor_res or {}),
                        ratio=ours / floor,
                        unit=sc["unit"],
                    )
                )
    return rows


def _floor_lines(doc: dict[str, Any]) -> list[str]:
    rows = floor_ratios(doc)
    if not rows:
        return []
    lines = ["", f"Floor: {by_key(OURS).label} / {by_key(rows[0]['floor']).label} (no library), in this run"]
    for r in rows:

        def fig(value: float, bounds: tuple[float, float] | None, unit: str = r["unit"]) -> str:
            spread = f" [{fmt_value(bounds[0], unit)} .. {fmt_value(bounds[1], unit)}]" if bounds else ""
            return fmt_value(value, unit) + spread

        lines.append(
            f"  {r['title'][:30]:30} {r['point']:6} {r['ratio']:6.2f}x (aim <= {FLOOR_AIM:g}): "
            f"ours {fig(r['ours'], r['ours_bounds'])}, floor {fig(r['floor_value'], r['floor_bounds'])}"
        )
    return lines


def render(doc: dict[str, Any]) -> str:
    """The table printed at the end of a run."""
    lines: list[str] = []
    ours_label = by_key(OURS).label
    peers = [c for c in CLIENTS if c.key != OURS and c.key in doc["clients"]]
    lines.append(f"Targets: ratio = {ours_label} / peer, in this run")
    lines.append(f"  {'scenario':32} {'vs nats-py async':24} {'vs nats-core':24} {'vs best sync peer':30}")
    by_target: dict[str, list[dict[str, Any]]] = {}
    for row in doc["targets"]:
        by_target.setdefault(row["target"], []).append(row)
    for title, rows in by_target.items():
        cells = []
        by_against = {row["against"]: row for row in rows}
        for against, _key in AGAINST:
            row = by_against.get(against, {"ratio": None, "note": "n/a"})
            if row["ratio"] is None:
                cells.append(row.get("note", "n/a"))
                continue
            verdict = "ok  " if row["met"] else "MISS"
            who = f", {by_key(row['peer']).label}" if row["against"] == "best sync peer" else ""
            cells.append(f"{row['ratio']:6.2f} {verdict} ({row['op']} {row['bound']:g}{who})")
        lines.append(f"  {title:32} {cells[0]:24} {cells[1]:24} {cells[2]:30}")
    lines.extend(_floor_lines(doc))
    lines.append("")
    lines.append(f"All scenarios: {ours_label}, and {ours_label} / peer (latency: lower is better)")
    header = f"  {'scenario':30} {'point':16} {ours_label:>22}" + "".join(f" {c.label:>14}" for c in peers)
    lines.append(header)
    notes: list[str] = []
    for sc in doc["scenarios"]:
        title = sc["title"]
        for point in sc["points"]:
            res = point["results"].get(OURS) or {}
            ours = headline_of(sc, res)
            if ours is not None:
                bounds = _bounds(sc, res)
                spread = f" +-{50 * (bounds[1] - bounds[0]) / ours:.0f}%" if bounds else ""
                figure = fmt_value(ours, sc["unit"]) + spread
            else:
                figure = str(res.get("status", "error"))
            ratios = "".join(f" {_cell(sc, point, c.key, ours):>14}" for c in peers)
            lines.append(f"  {title[:30]:30} {point['label'][:16]:16} {figure:>22}{ratios}")
            title = ""
            for c in CLIENTS:
                if c.key not in doc["clients"]:
                    continue
                r = point["results"].get(c.key) or {}
                if c.floor and r.get("status") == "n/a":  # measured in a few scenarios only
                    continue
                if r.get("status") in ("n/a", "error") and r.get("reason"):
                    notes.append(f"  {r['status']}: {sc['name']}/{point['label']}/{c.label}: {r['reason']}")
    lines.append("")
    lines.append("Interpreters (every cell of a client ran under its interpreter):")
    for key, info in doc["clients"].items():
        py = info.get("python") or {}
        where = f"{py.get('implementation', '')} {py.get('version')} ({py.get('executable')})" if py else "none"
        lines.append(f"  {by_key(key).label:18} {where.strip()}")
    mixed = _mixed_interpreters(doc)
    lines.extend(f"  note: {m}" for m in mixed)
    skipped = {k: v for k, v in doc["clients"].items() if not v.get("available")}
    if notes or skipped:
        lines.append("")
    for key, info in skipped.items():
        lines.append(f"  skipped: {by_key(key).label}: {info.get('reason')}")
    lines.extend(notes)
    return "\n".join(lines)
