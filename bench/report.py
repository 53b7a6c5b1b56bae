"""The results table: collab, the relay and their ratio per cell, medians over the repetitions.

``table(results)`` renders one markdown table; ``targets(results)`` checks the
issue's targets against it. ``results`` maps a server name to its
``Measurement`` list, in the order they were taken.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable

from bench.scenarios import Measurement
from bench.stats import median

Key = tuple[str, str]  # (section, cell)
Medians = dict[Key, dict[str, dict[str, float]]]  # key -> target -> metric -> median


def medians(
    measurements: list[Measurement], first: str = "collab"
) -> tuple[list[Key], Medians, dict[Key, list[str]], dict[Key, int]]:
    """Per cell: the medians of each target's metrics, its notes, and how many runs of ``first``."""
    order: list[Key] = []
    samples: dict[Key, dict[str, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    notes: dict[Key, list[str]] = defaultdict(list)
    runs: dict[Key, int] = defaultdict(int)
    for m in measurements:
        key = (m.section, m.cell)
        if key not in order:
            order.append(key)
        if m.target == first:
            runs[key] += 1
        for name, value in m.values.items():
            samples[key][m.target][name].append(value)
        notes[key] += [f"{m.target}: {n}" for n in m.notes if f"{m.target}: {n}" not in notes[key]]
    out: Medians = {
        key: {t: {name: median(v) for name, v in metrics.items()} for t, metrics in targets.items()}
        for key, targets in samples.items()
    }
    return order, out, notes, runs


def fmt(value: float, digits: int = 0) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def ratio(a: float, b: float) -> str:
    if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


Row = tuple[str, Callable[[dict[str, float]], str], str]  # label, rendering, ratio metric


def _lat(v: dict[str, float]) -> str:
    return f"{fmt(v.get('p50', math.nan), 1)} / {fmt(v.get('p99', math.nan), 1)} / {fmt(v.get('max', math.nan), 0)}"


FANOUT_ROWS: list[Row] = [
    ("latency p50 / p99 / max, ms (lower is better; ratio of p99)", _lat, "p99"),
    ("delivered msg/s", lambda v: fmt(v["rate"]), "rate"),
    ("% delivered", lambda v: fmt(v["pct"], 1), "pct"),
    (
        "server CPU, % of a core (clients' CPU)",
        lambda v: f"{fmt(v['cpu'])} ({fmt(v['client_cpu'])})",
        "cpu",
    ),
    ("deliveries per server CPU-second", lambda v: fmt(v["per_cpu"]), "per_cpu"),
    ("server threads waiting for a CPU, % of the time", lambda v: fmt(v["wait"]), "wait"),
]

ROWS: dict[str, list[Row]] = {
    "fanout": FANOUT_ROWS,
    "yjs": FANOUT_ROWS,
    "commit": [
        ("acked commits/s (relay: echoes/s)", lambda v: fmt(v["rate"]), "rate"),
        ("ack latency p50 / p99, ms", lambda v: f"{fmt(v['p50'], 1)} / {fmt(v['p99'], 1)}", "p99"),
        ("server CPU, % of a core", lambda v: fmt(v["cpu"]), "cpu"),
        ("server threads waiting for a CPU, % of the time", lambda v: fmt(v["wait"]), "wait"),
    ],
    "idle": [
        ("KiB per connection (server RSS growth)", lambda v: fmt(v["kib"], 1), "kib"),
        ("connects/s (handshake + hello)", lambda v: fmt(v["connects"]), "connects"),
    ],
    "storm": [
        ("seconds until every client has hello", lambda v: fmt(v["seconds"], 2), "seconds"),
        ("connects/s (handshake + hello)", lambda v: fmt(v["connects"]), "connects"),
        (
            "server CPU ms per connection (clients')",
            lambda v: f"{fmt(v['cpu_ms'], 2)} ({fmt(v.get('client_cpu_ms', math.nan), 2)})",
            "cpu_ms",
        ),
        ("failed attempts, retried", lambda v: fmt(v["retried"]), "retried"),
    ],
}


def table(results: dict[str, list[Measurement]]) -> str:
    """collab against the relay (the fanout, commit and idle sections), and, when measured, the
    yjs kind against the text kind on the same collab server (section ``yjs``)."""
    sections = {m.section for ms in results.values() for m in ms}
    parts = []
    if sections - {"yjs"}:
        parts.append(comparison(results, "collab", "relay", exclude={"yjs"}))
    if "yjs" in sections:
        parts.append(
            "Yjs documents against text documents, on the same collab server in the same run:\n\n"
            + comparison(results, "yjs", "text", only={"yjs"})
        )
    return "\n\n".join(parts)


def comparison(
    results: dict[str, list[Measurement]],
    left: str,
    right: str,
    *,
    only: set[str] | None = None,
    exclude: frozenset[str] | set[str] = frozenset(),
) -> str:
    lines = [
        f"| server | scenario | metric | {left} | {right} | {left} / {right} |",
        "|---|---|---|--:|--:|--:|",
    ]
    for server, measurements in results.items():
        order, med, _, runs = medians(measurements, first=left)
        for key in order:
            section, cell = key
            if section in exclude or (only is not None and section not in only):
                continue
            a, b = med[key].get(left, {}), med[key].get(right, {})
            label = f"{cell} (x{runs[key]})" if runs[key] > 1 else cell
            for name, render, metric in ROWS[section]:
                lines.append(
                    f"| {server} | {label} | {name} | {render(a) if a else 'n/a'} | "
                    f"{render(b) if b else 'n/a'} | {ratio(a.get(metric, math.nan), b.get(metric, math.nan))} |"
                )
    return "\n".join(lines)


def all_notes(results: dict[str, list[Measurement]]) -> str:
    lines = []
    for server, measurements in results.items():
        order, _, notes, _ = medians(measurements)
        for key in order:
            for note in notes[key]:
                lines.append(f"- {server}, {key[1]}: {note}")
    return "\n".join(lines)


def _find(med: Medians, section: str, contains: str) -> dict[str, dict[str, float]] | None:
    for (s, cell), targets in med.items():
        if s == section and contains in cell:
            return targets
    return None


def targets(results: dict[str, list[Measurement]], *, rate: float) -> str:
    lines = []
    for server, measurements in results.items():
        _, med, _, _ = medians(measurements)
        checks: list[tuple[str, bool | None, str]] = []
        fast100 = _find(med, "fanout", "as fast as it goes, N=100")
        if fast100 and "collab" in fast100 and "relay" in fast100:
            c, r = fast100["collab"], fast100["relay"]
            ok = c["rate"] >= 3 * r["rate"] and c["pct"] >= 100.0
            checks.append(
                ("N=100: >= 3x the relay's delivered rate, 100% delivered", ok,
                 f"{c['rate'] / r['rate']:.2f}x, {c['pct']:.1f}% delivered"),
            )  # fmt: skip
        for mode in ("as fast as it goes", f"paced {rate:g}/s"):
            cell = _find(med, "fanout", f"{mode}, N=500")
            if cell and "collab" in cell:
                pct = cell["collab"]["pct"]
                checks.append((f"N=500 ({mode}): 100% delivered", pct >= 100.0, f"{pct:.1f}%"))
        paced100 = _find(med, "fanout", f"paced {rate:g}/s, N=100")
        if paced100 and "collab" in paced100:
            p99 = paced100["collab"]["p99"]
            checks.append((f"p99 < 20 ms at {rate:g} edits/s to N=100", p99 < 20, f"{p99:.1f} ms"))
        commit = _find(med, "commit", "editors")
        if commit and "collab" in commit:
            cps = commit["collab"]["rate"]
            checks.append((">= 1,000 durable commits/s on one document", cps >= 1000, f"{cps:,.0f}/s"))
        for (section, cell), t in med.items():
            if section == "idle" and "collab" in t:
                kib = t["collab"]["kib"]
                checks.append((f"<= 30 KiB per idle connection ({cell})", kib <= 30, f"{kib:.1f} KiB"))
        if server == "uvicorn":
            for (section, cell), t in med.items():
                if section == "storm" and "collab" in t:
                    cps = t["collab"]["connects"]
                    checks.append((f">= 1,000 connects/s ({cell})", cps >= 1000, f"{cps:,.0f}/s"))
        for (section, cell), t in med.items():
            if section == "yjs" and "yjs" in t and "text" in t:
                y, x = t["yjs"], t["text"]
                cost = x["per_cpu"] / y["per_cpu"]  # yjs CPU per delivery / text CPU per delivery
                ok = cost <= 1.5 and y["pct"] >= 100.0
                checks.append(
                    (f"yjs ({cell}): CPU per delivery within 1.5x of the text kind's, 100% delivered",
                     ok, f"{cost:.2f}x, {y['pct']:.1f}% delivered"),
                )  # fmt: skip
        for label, ok, detail in checks:
            mark = "met" if ok else "MISSED"
            lines.append(f"- {server}: {label}: **{mark}** ({detail})")
    return "\n".join(lines)
