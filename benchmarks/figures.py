"""The benchmark's figures (the rows of issue 11's table) and the table that shows them.

A measured figure keeps the window it came from, so the table can print beside it the
generator's own ceiling over that same window. Cells are ranges over the rounds; ratios
are fakepeer / Kamailio within each round (the two ran minutes apart, not hours), and
their range is what to read on a shared machine.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from benchmarks.generator import Window


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    per_round: bool = True  # False: measured once per server (the 60 s memory run)
    ratio: bool = True      # False: a ratio would say nothing (growth against a flat line)


FIGURES = (
    Figure("b8_rate", "B: OPTIONS/s over 8 persistent connections", "/s"),
    Figure("b8_cpu", "B: server CPU per OPTIONS (8 connections)", "us"),
    Figure("b1_cpu", "B at 1 connection: CPU per OPTIONS", "us"),
    Figure("b64_cpu", "B at 64 connections: CPU per OPTIONS", "us"),
    Figure("b512_cpu", "B at 512 connections: CPU per OPTIONS", "us"),
    Figure("g10_bytes", "B memory, 8 connections, first 10 s: PSS per OPTIONS", "B", False, False),
    Figure("g10_rate", "B memory, 8 connections, first 10 s: PSS growth", "MB/s", False, False),
    Figure("g60_bytes", "B memory, 8 connections, 60 s: PSS per OPTIONS", "B", False, False),
    Figure("g60_percent", "B memory, 8 connections, 60 s: growth after warm-up", "%", False, False),
    Figure("a_cpu", "A: new connection + OPTIONS + close, CPU per connection", "us"),
    Figure("a_rate", "A: connections/s", "/s"),
    Figure("c500_kib", "C: PSS per idle TLS connection, 500 open", "KiB"),
    Figure("c2000_kib", "C: PSS per idle TLS connection, 2,000 open", "KiB"),
    Figure("c5000_kib", "C: PSS per idle TLS connection, 5,000 open", "KiB"),
    Figure("m_cpu", "A with mutual TLS (client chain verified): CPU per connection", "us"),
    Figure("m_rate", "A with mutual TLS: connections/s", "/s"),
    Figure("h_cpu", "TLS handshake alone (no SIP): CPU per handshake", "us"),
    Figure("h_rate", "TLS handshake alone: handshakes/s", "/s"),
)
BY_KEY = {figure.key: figure for figure in FIGURES}


@dataclass(frozen=True)
class Measured:
    """One figure of one server in one round, with the window it was measured over."""

    value: float
    window: Window

    def record(self) -> dict[str, object]:
        return {"value": round(self.value, 3), "window": self.window.facts()}


#: server name -> figure key -> one value per round it was measured in
Series = dict[str, dict[str, list[Measured]]]


def _number(value: float, unit: str) -> str:
    if unit in ("us", "/s", "B"):
        return f"{value:,.0f}"
    return f"{value:,.2f}" if unit in ("%", "ratio") else f"{value:,.1f}"


def _range(values: list[float], unit: str) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    if _number(low, unit) == _number(high, unit):
        return _number(low, unit)
    return f"{_number(low, unit)}-{_number(high, unit)}"


def ratios(series: Series, server: str, key: str) -> list[float]:
    """fakepeer / Kamailio per round, for the rounds where both were measured."""
    ours = series.get(server, {}).get(key, [])
    reference = series.get("kamailio", {}).get(key, [])
    return [mine.value / theirs.value for mine, theirs in zip(ours, reference, strict=False)
            if theirs.value > 0]


def _ratio_cell(values: list[float]) -> str:
    if not values:
        return "-"
    text = _range(values, "ratio")
    return text if len(values) == 1 else f"{text} (median {statistics.median(values):.2f})"


def _ceiling_cell(measured: list[Measured]) -> str:
    """The lowest generator ceiling over every run of this figure, and how much of it
    the busiest run used: a figure is the server's while that share stays well below 1."""
    if not measured:
        return "-"
    ceiling = min(m.window.generator_ceiling for m in measured)
    used = max(m.window.rate / m.window.generator_ceiling for m in measured)
    return f">= {ceiling:,.0f}/s ({used:.0%} used)"


def table(series: Series, servers: list[str], labels: dict[str, str]) -> str:
    """The figures as a Markdown table: one column per server, ratios to Kamailio."""
    trees = [name for name in servers if name != "kamailio"]
    has_reference = "kamailio" in servers
    header = ["figure", *(labels[name] for name in servers)]
    if has_reference:
        header += [f"{labels[name]} / Kamailio" for name in trees]
    header.append("generator ceiling")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for figure in FIGURES:
        if not any(series.get(name, {}).get(figure.key) for name in servers):
            continue
        cells = [f"{figure.label} ({figure.unit})"]
        cells += [_range([m.value for m in series.get(name, {}).get(figure.key, [])], figure.unit)
                  for name in servers]
        if has_reference:
            cells += [_ratio_cell([round(v, 2) for v in ratios(series, name, figure.key)])
                      if figure.ratio else "-" for name in trees]
        every = [m for name in servers for m in series.get(name, {}).get(figure.key, [])]
        cells.append(_ceiling_cell(every))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def spread(series: Series, servers: list[str], unit: str) -> float:
    """The largest max/min - 1 across rounds of any figure in ``unit``: how noisy it was."""
    worst = 0.0
    for name in servers:
        for key, measured in series.get(name, {}).items():
            values = [m.value for m in measured]
            if BY_KEY[key].unit == unit and len(values) > 1 and min(values) > 0:
                worst = max(worst, max(values) / min(values) - 1)
    return worst
