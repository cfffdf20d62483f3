"""PNG plots of a results document, drawn with matplotlib (Agg: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .clients import CLIENTS, OURS, by_key
from .report import headline_of

__all__ = ["PLOTS", "plot_all"]

#: file name -> what it shows
PLOTS = {
    "throughput_by_payload.png": "publish msgs/s and MB/s by payload size, every client",
    "latency_percentiles.png": "request/reply p50/p90/p99/p99.9 latency, every client",
    "thread_scaling.png": "total publish msgs/s with 1, 4 and 16 publisher threads",
    "ratios.png": "this library / nats-py async, per scenario (> 1 is better; latency inverted)",
}


def _scenario(doc: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((sc for sc in doc["scenarios"] if sc["name"] == name), None)


def _ok(point: dict[str, Any], key: str) -> dict[str, Any] | None:
    r = point["results"].get(key)
    return r if r and r.get("status") == "ok" else None


def _human(value: float, _pos: Any = None) -> str:
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= div:
            return f"{value / div:g}{suffix}"
    return f"{value:g}"


def _plain_log(axis: Any, fine: bool = False) -> None:
    """Log-scale tick labels as 1k, 10k, 1M rather than powers of ten; ``fine`` adds 2 and 5
    within each decade, for axes that span only one or two decades."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if fine:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(_human))
    axis.set_minor_formatter(NullFormatter())


def _footer(fig: Any, doc: dict[str, Any]) -> None:
    m = doc["machine"]
    text = (
        f"{m.get('cpu_model')}, {m.get('cpu_count')} CPUs, Python {m.get('python')}, "
        f"load {doc.get('load_average', {}).get('start')}; {doc['started'][:16]}"
    )
    fig.text(0.01, 0.01, text, fontsize=6, color="#666666")


def _save(plt: Any, fig: Any, doc: dict[str, Any], path: Path, legend_on: Any = None) -> bool:
    """Finish a plot the same way as every other (legend, footer, margins), write it and close it."""
    if legend_on is not None:
        legend_on.legend(fontsize=7)
    _footer(fig, doc)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path)
    plt.close(fig)
    return True


def _throughput(doc: dict[str, Any], plt: Any, path: Path) -> bool:
    sc = _scenario(doc, "publish")
    if sc is None:
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=80)
    labels = [p["label"] for p in sc["points"]]
    large = [i for i, p in enumerate(sc["points"]) if p["params"]["payload"] >= 1024]
    for c in CLIENTS:
        pts = [(i, r) for i, p in enumerate(sc["points"]) if (r := _ok(p, c.key))]
        if not pts:
            continue
        style = dict(color=c.color, marker="o", lw=2.2 if c.key == OURS else 1.2, label=c.label)
        ax1.plot([i for i, _ in pts], [r["median"] for _, r in pts], **style)
        big = [(i, r) for i, r in pts if i in large]
        ax2.plot([i for i, _ in big], [r["mb_per_s"] for _, r in big], **style)
    ax1.set(yscale="log", title="publish, msgs/s", xlabel="payload")
    ax1.set_xticks(range(len(labels)), labels)
    ax2.set(title="publish, MB/s (10^6 bytes)", xlabel="payload")
    ax2.set_ylim(bottom=0)
    ax2.set_xticks(large, [labels[i] for i in large])
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
    _plain_log(ax1.yaxis)
    return _save(plt, fig, doc, path, legend_on=ax1)


def _latency(doc: dict[str, Any], plt: Any, path: Path) -> bool:
    sc = _scenario(doc, "request_reply")
    if sc is None or not sc["points"]:
        return False
    point = sc["points"][0]
    keys = ("p50_us", "p90_us", "p99_us", "p999_us")
    clients = [c for c in CLIENTS if _ok(point, c.key)]
    if not clients:
        return False
    fig, ax = plt.subplots(figsize=(6.5, 3.6), dpi=80)
    width = 0.8 / len(clients)
    for j, c in enumerate(clients):
        r = _ok(point, c.key)
        assert r is not None
        ax.bar([i + j * width for i in range(len(keys))], [r[k] for k in keys], width, color=c.color, label=c.label)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(keys))], ["p50", "p90", "p99", "p99.9"])
    ax.set(yscale="log", ylabel="microseconds (lower is better)", title="request/reply round trip, 16 B")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    _plain_log(ax.yaxis, fine=True)
    return _save(plt, fig, doc, path, legend_on=ax)


def _threads(doc: dict[str, Any], plt: Any, path: Path) -> bool:
    from matplotlib.ticker import NullFormatter

    sc = _scenario(doc, "threads")
    if sc is None:
        return False
    fig, ax = plt.subplots(figsize=(6.5, 3.6), dpi=80)
    drawn = False
    for c in CLIENTS:
        pts = [(p["params"]["threads"], r) for p in sc["points"] if (r := _ok(p, c.key))]
        if pts:
            ax.plot([n for n, _ in pts], [r["median"] for _, r in pts], marker="o", color=c.color, label=c.label)
            drawn = True
    if not drawn:
        plt.close(fig)
        return False
    ax.set(xscale="log", yscale="log", xlabel="publisher threads (nats-py async: tasks)", ylabel="msgs/s in total")
    ax.set_title("publish, 16 B, N threads")
    _plain_log(ax.yaxis)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks([p["params"]["threads"] for p in sc["points"]], [str(p["params"]["threads"]) for p in sc["points"]])
    ax.grid(True, which="both", alpha=0.3)
    return _save(plt, fig, doc, path, legend_on=ax)


def _ratios(doc: dict[str, Any], plt: Any, path: Path) -> bool:
    rows = []
    for sc in doc["scenarios"]:
        for p in sc["points"]:
            ours = headline_of(sc, p["results"].get(OURS))
            peer = headline_of(sc, p["results"].get("natspy"))
            if ours and peer:
                # latency: invert, so that every bar reads "how many times better"
                ratio = ours / peer if sc["higher_is_better"] else peer / ours
                rows.append((f"{sc['name']} {p['label']}", ratio))
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(6.5, 0.3 * len(rows) + 1.2), dpi=80)
    names = [r[0] for r in rows][::-1]
    values = [r[1] for r in rows][::-1]
    colors = [by_key(OURS).color if v >= 1 else "#d62728" for v in values]
    bars = ax.barh(names, values, color=colors)
    ax.bar_label(bars, [f"{v:.2f}" for v in values], fontsize=6, padding=2)
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xscale("log")
    lo, hi = min(values + [0.5]) / 1.5, max(values + [2.0]) * 1.5
    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100) if lo <= t <= hi]
    ax.set_xlim(lo, hi)
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel(f"{by_key(OURS).label} / nats-py async (> 1: better; latency inverted)")
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(True, axis="x", which="both", alpha=0.3)
    return _save(plt, fig, doc, path)


def plot_all(doc: dict[str, Any], out: Path) -> tuple[list[str], str | None]:
    """Write the plots; return the file names written and, if none could be, why."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        return [], f"matplotlib is not installed ({exc}); pip install 'beluga-nats-sync[bench]'"
    written = []
    for name, draw in (
        ("throughput_by_payload.png", _throughput),
        ("latency_percentiles.png", _latency),
        ("thread_scaling.png", _threads),
        ("ratios.png", _ratios),
    ):
        if draw(doc, plt, out / name):
            written.append(name)
    return written, None
