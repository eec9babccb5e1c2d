"""The soak's figures, kept on the pytest config so the terminal summary can print them
(``tests/soak/conftest.py``), whether the soak passed or not."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Figures:
    held: int
    hostile: int
    answered: int
    asked: int
    p99: float
    start_mib: float
    baseline_mib: float
    peak_mib: float
    final_mib: float
    events_lost: int
    events_mib: float
    seconds: float
    phases: tuple[tuple[str, float], ...] = ()
    latencies: tuple[float, ...] = ()
    hostile_kinds: tuple[tuple[str, int], ...] = ()

    def line(self) -> str:
        return (f"soak: {self.held:,} connections held, {self.hostile:,} hostile clients, "
                f"{self.answered:,}/{self.asked:,} answers to good clients "
                f"(p99 {self.p99:.2f} s), RSS {self.baseline_mib:.0f} -> peak "
                f"{self.peak_mib:.0f} -> {self.final_mib:.0f} MiB (at start "
                f"{self.start_mib:.0f}), events lost {self.events_lost:,} "
                f"({self.events_mib:.1f} MiB of events), {self.seconds:.0f} s")

    def detail(self) -> str:
        """Where the time went, and the answer latencies (p50, p90, p99, max)."""
        phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.phases)
        latency = "/".join(f"{seconds:.3f}" for seconds in self.latencies)
        kinds = ", ".join(f"{count} {kind}" for kind, count in self.hostile_kinds)
        return (f"soak phases: {phases}; answers p50/p90/p99/max {latency} s; "
                f"hostile: {kinds}")


SOAK_FIGURES = pytest.StashKey[list[Figures]]()


def keep(config: pytest.Config, figures: Figures) -> None:
    config.stash.setdefault(SOAK_FIGURES, []).append(figures)
