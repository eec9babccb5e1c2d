"""Runs of the compiled load generator (``tlsload``) and what a window of one says.

The generator runs pinned to its own core and samples, at the same instants, its own
CPU and the server processes' CPU and PSS (see ``tlsload/tlsload.c``). A ``Window``
between two samples gives the server's figures (rate, CPU per operation) and the
generator's own ceiling: the operations per second its CPU per operation would allow,
so a figure far below that ceiling is visibly the server's.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from benchmarks.servers import CIPHERS, Served, pinned
from benchmarks.trees import SbcCertificate


class GeneratorError(RuntimeError):
    """The generator failed; the message quotes it."""


@dataclass(frozen=True)
class Sample:
    t: float
    ok: int
    bad: int
    errors: int
    open: int
    gen_cpu_s: float
    server_cpu_s: float
    server_pss_kib: int
    core_busy_s: float
    core_total_s: float
    server_alive: bool


@dataclass(frozen=True)
class Window:
    """What happened between two samples of one run."""

    start: Sample
    end: Sample

    @property
    def seconds(self) -> float:
        return self.end.t - self.start.t

    @property
    def operations(self) -> int:
        return self.end.ok - self.start.ok

    @property
    def failures(self) -> int:
        return (self.end.bad - self.start.bad) + (self.end.errors - self.start.errors)

    @property
    def rate(self) -> float:
        return self.operations / self.seconds if self.seconds > 0 else 0.0

    @property
    def server_cpu_s(self) -> float:
        return self.end.server_cpu_s - self.start.server_cpu_s

    @property
    def server_us_per_op(self) -> float:
        return self.server_cpu_s / max(self.operations, 1) * 1e6

    @property
    def generator_us_per_op(self) -> float:
        return (self.end.gen_cpu_s - self.start.gen_cpu_s) / max(self.operations, 1) * 1e6

    @property
    def generator_ceiling(self) -> float:
        """Operations per second the generator could sustain at its CPU per operation."""
        return 1e6 / max(self.generator_us_per_op, 1e-3)

    @property
    def server_core_share(self) -> float:
        """The share of the window the server spent on its core (1.0: saturated)."""
        return self.server_cpu_s / self.seconds if self.seconds > 0 else 0.0

    @property
    def others_core_share(self) -> float:
        """The share of the server core that other processes of the machine took."""
        wall = self.end.core_total_s - self.start.core_total_s
        busy = self.end.core_busy_s - self.start.core_busy_s
        return max(busy - self.server_cpu_s, 0.0) / wall if wall > 0 else 0.0

    @property
    def pss_growth_kib(self) -> int:
        return self.end.server_pss_kib - self.start.server_pss_kib

    def facts(self) -> dict[str, float]:
        """The raw figures of this window, for the JSON output."""
        return {"seconds": round(self.seconds, 4), "operations": self.operations,
                "failures": self.failures, "rate": round(self.rate, 1),
                "server_us_per_op": round(self.server_us_per_op, 2),
                "generator_us_per_op": round(self.generator_us_per_op, 2),
                "generator_ceiling": round(self.generator_ceiling),
                "server_core_share": round(self.server_core_share, 3),
                "others_core_share": round(self.others_core_share, 3),
                "server_pss_kib_start": self.start.server_pss_kib,
                "server_pss_kib_end": self.end.server_pss_kib}


@dataclass(frozen=True)
class Run:
    command: list[str]
    samples: list[Sample]
    result: dict[str, Any]

    def window(self, first: int = 0, last: int = -1) -> Window:
        return Window(self.samples[first], self.samples[last])


_SAMPLE_FIELDS = {field.name for field in fields(Sample)}


class Generator:
    """The compiled generator, pinned to ``core``, watching the server on ``server_core``.

    ``mutual_binary`` (default ``binary``) drives the mutual-TLS runs: there the client
    signs with an RSA key on every handshake, which OpenSSL does cheaper than Debian's
    wolfSSL build (generic math for RSA), while wolfSSL is the cheaper client otherwise.
    """

    def __init__(self, binary: Path, core: int, server_core: int,
                 mutual_binary: Path | None = None) -> None:
        self.binary = binary
        self.mutual_binary = mutual_binary or binary
        self.core = core
        self.server_core = server_core
        #: the client library, and the suite and group each server negotiated
        self.facts: dict[str, str] = {}
        #: runs that saw a failed connection or a non-200 answer, one line each
        self.problems: list[str] = []

    def run(self, served: Served, mode: str, *, connections: int, warmup: float = 1.0,
            seconds: float = 3.0, pipeline: int = 1, marks: tuple[float, ...] = (),
            steps: tuple[int, ...] = (), settle: float = 1.0,
            client: SbcCertificate | None = None) -> Run:
        binary = self.binary if client is None else self.mutual_binary
        command = [*pinned(self.core), str(binary), "--mode", mode,
                   "--port", str(served.port), "--connections", str(connections),
                   "--pipeline", str(pipeline), "--warmup", str(warmup),
                   "--seconds", str(seconds), "--settle", str(settle),
                   "--core", str(self.server_core), "--ciphers", CIPHERS]
        if marks:
            command += ["--marks", ",".join(f"{mark:g}" for mark in marks)]
        if steps:
            command += ["--idle-steps", ",".join(str(step) for step in steps)]
        for pid in served.processes():
            command += ["--pid", str(pid)]
        if client is not None:
            command += ["--cert", str(client.chain), "--key", str(client.key)]
        deadline = 90 + warmup + seconds + (len(steps) * settle + sum(steps) / 100 if steps else 0)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=deadline,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise GeneratorError(f"tlsload {mode} did not end within {deadline:.0f} s") from None
        samples: list[Sample] = []
        result: dict[str, Any] = {}
        for line in done.stdout.splitlines():
            record = json.loads(line)
            if "sample" in record:
                samples.append(Sample(**{key: record["sample"][key] for key in _SAMPLE_FIELDS}))
            elif "result" in record:
                result = record["result"]
        if done.returncode != 0 or len(samples) < 2:
            problem = done.stderr.strip() or result.get("first_error") or "no samples"
            raise GeneratorError(f"tlsload {mode} against {served.name} failed "
                                 f"({done.returncode}): {problem}")
        if not all(sample.server_alive for sample in samples):
            raise GeneratorError(f"{served.name} lost a process during tlsload {mode} "
                                 f"(first error: {result.get('first_error') or 'none'})")
        if result["errors"] or result["bad"]:
            self.problems.append(f"{served.name} {mode} x{connections}: {result['errors']} "
                                 f"failed connections, {result['bad']} non-200 answers "
                                 f"(first: {result['first_error'] or '-'})")
        self.facts["mutual TLS" if client else "library"] = (
            f"{result['library']} {result['library_version']}")
        if result.get("cipher"):
            self.facts[served.name] = f"{result['cipher']}/{result['group']}"
        return Run(command, samples, result)
