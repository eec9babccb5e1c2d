"""Benchmark: fakepeer serve beside Kamailio on loopback, with figures that are the server's.

Prints figures; asserts nothing; not run by pytest. From the repository root:

    python3 benchmarks/serve_throughput.py                        # this tree, 5 rounds
    python3 benchmarks/serve_throughput.py --tree /path/to/old --tree .   # before/after
    python3 benchmarks/serve_throughput.py --quick                # 1 round, 1-2 minutes

The load comes from ``tlsload``, a C client built here from ``benchmarks/tlsload/`` with
Debian's compiler and wolfSSL (``--generator-tls openssl`` for OpenSSL), pinned to one
core while the server is pinned to the other. CPU per operation is the server's own
(utime + stime of its processes over the window, from /proc): on a shared machine it
moves far less than a rate does. Each figure is printed with the generator's ceiling
over the same window (its CPU per operation -> operations/s it could sustain).

Kamailio 5.6 with its tls module (configured as ``tests/peers/kamailio.py`` does: the
same chain, the four ECDHE-RSA suites, TLS 1.2, one TCP worker) runs in alternating
rounds with each tree (K, F, K, F, ...) and the ratios are taken within each round.
Figures (issue 11's table): A new connection + OPTIONS + close; B persistent OPTIONS
over 8 connections, and at 1 / 64 / 512; B's memory growth over 10 s and 60 s; C PSS per
idle TLS connection at 500 / 2,000 / 5,000; A with mutual TLS; the handshake alone; and
the TLS floor (a server-side handshake in memory with OpenSSL alone).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import compiled, figures
from benchmarks.compiled import BuildError
from benchmarks.figures import Measured, Series
from benchmarks.generator import Generator, GeneratorError
from benchmarks.servers import (
    Served,
    ServerError,
    fakepeer,
    fakepeer_environment,
    kamailio_server,
    pinned,
    wait_quiet,
)
from benchmarks.trees import SbcCertificate, Tree, TreeError, prepare, served_chain, served_key

HERE = Path(__file__).resolve().parent
B_CONNECTIONS = (8, 1, 64, 512)
A_IN_FLIGHT = 32     # new connections kept in flight for A and the handshake alone
IDLE_IN_FLIGHT = 64  # handshakes in flight while C opens its connections


@dataclass(frozen=True)
class Plan:
    """How long each measurement runs (seconds)."""

    rounds: int
    warmup: float         # before every window
    b_seconds: float      # B over 8 connections, the headline B figure
    n_seconds: float      # B at 1 / 64 / 512 connections
    a_seconds: float      # A, A with mutual TLS, the handshake alone
    idle_steps: tuple[int, ...]  # C: connections held at each reading
    idle_rounds: int      # C: in this many first rounds (opening 5,000 is the slow part)
    settle: float         # C: after each step, before PSS is read
    growth_warmup: float  # B memory: OPTIONS before the first PSS reading
    growth_marks: tuple[float, ...]  # B memory: PSS read at these offsets
    floor_seconds: float


FULL = Plan(rounds=5, warmup=1.0, b_seconds=4.0, n_seconds=2.5, a_seconds=3.0,
            idle_steps=(500, 2000, 5000), idle_rounds=1, settle=1.0, growth_warmup=5.0,
            growth_marks=(10.0, 60.0), floor_seconds=2.0)
QUICK = Plan(rounds=1, warmup=0.3, b_seconds=1.5, n_seconds=1.0, a_seconds=1.5,
             idle_steps=(500,), idle_rounds=1, settle=0.5, growth_warmup=2.0,
             growth_marks=(10.0,), floor_seconds=1.0)


class BenchmarkError(RuntimeError):
    """A setting the benchmark cannot run with; the message says which and what to do."""


@dataclass(frozen=True)
class FakepeerUnderTest:
    tree: Tree
    folder: Path
    core: int

    @property
    def name(self) -> str:
        return self.tree.label

    @property
    def client(self) -> SbcCertificate:
        return self.tree.sbc

    def start(self, *, mutual_tls: bool) -> AbstractContextManager[Served]:
        return fakepeer(self.tree.label, self.tree.path, self.tree.store, self.folder,
                        self.core, mutual_tls=mutual_tls)


@dataclass(frozen=True)
class KamailioUnderTest:
    chain: bytes
    key: bytes
    client: SbcCertificate
    folder: Path
    core: int
    workers: int
    name: str = "kamailio"

    def start(self, *, mutual_tls: bool) -> AbstractContextManager[Served]:
        roots = self.client.root.read_bytes() if mutual_tls else None
        return kamailio_server(self.folder, self.chain, self.key, self.core,
                               client_ca_pem=roots, workers=self.workers)


ServerUnderTest = FakepeerUnderTest | KamailioUnderTest


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure_idle(served: Served, generator: Generator, plan: Plan) -> dict[str, Measured]:
    """C: PSS per idle connection, held in steps, after a few connections have warmed the
    server (its first connection loads code and caches that are no connection's cost)."""
    generator.run(served, "connect", connections=8, warmup=0, seconds=plan.warmup)
    wait_quiet(served)
    idle = generator.run(served, "idle", connections=IDLE_IN_FLIGHT, steps=plan.idle_steps,
                         settle=plan.settle)
    rest = idle.samples[0]
    got: dict[str, Measured] = {}
    for index, step in enumerate(plan.idle_steps, 1):
        held = idle.samples[index]
        got[f"c{step}_kib"] = Measured(
            (held.server_pss_kib - rest.server_pss_kib) / max(held.open, 1),
            idle.window(0, index))
    wait_quiet(served)
    return got


def measure_round(server: ServerUnderTest, generator: Generator, plan: Plan, *,
                  pipeline: int, idle: bool) -> dict[str, Measured]:
    """Every per-round figure of one server: C first on the fresh server (so no earlier
    run's memory is reused), then B and A on the same one, then A with mutual TLS."""
    got: dict[str, Measured] = {}
    with server.start(mutual_tls=False) as served:
        if idle:
            got.update(measure_idle(served, generator, plan))
        for connections in B_CONNECTIONS:
            run = generator.run(served, "persistent", connections=connections,
                                pipeline=pipeline, warmup=plan.warmup,
                                seconds=plan.b_seconds if connections == 8 else plan.n_seconds)
            window = run.window()
            got[f"b{connections}_cpu"] = Measured(window.server_us_per_op, window)
            if connections == 8:
                got["b8_rate"] = Measured(window.rate, window)
            wait_quiet(served)
        for mode, prefix in (("connect", "a"), ("handshake", "h")):
            window = generator.run(served, mode, connections=A_IN_FLIGHT, warmup=plan.warmup,
                                   seconds=plan.a_seconds).window()
            got[f"{prefix}_cpu"] = Measured(window.server_us_per_op, window)
            got[f"{prefix}_rate"] = Measured(window.rate, window)
            wait_quiet(served)
    with server.start(mutual_tls=True) as served:
        window = generator.run(served, "connect", connections=A_IN_FLIGHT, warmup=plan.warmup,
                               seconds=plan.a_seconds, client=server.client).window()
        got["m_cpu"] = Measured(window.server_us_per_op, window)
        got["m_rate"] = Measured(window.rate, window)
    return got


def measure_growth(server: ServerUnderTest, generator: Generator, plan: Plan,
                   *, pipeline: int) -> dict[str, Measured]:
    """B's memory: PSS over 10 s (and 60 s) of OPTIONS on 8 connections, after warm-up."""
    got: dict[str, Measured] = {}
    with server.start(mutual_tls=False) as served:
        run = generator.run(served, "persistent", connections=8, pipeline=pipeline,
                            warmup=plan.growth_warmup, seconds=plan.growth_marks[-1],
                            marks=plan.growth_marks[:-1])
    first = run.window(0, 1)
    got["g10_bytes"] = Measured(first.pss_growth_kib * 1024 / max(first.operations, 1), first)
    got["g10_rate"] = Measured(first.pss_growth_kib * 1024 / 1e6 / first.seconds, first)
    if len(plan.growth_marks) > 1:
        whole = run.window(0, -1)
        got["g60_bytes"] = Measured(whole.pss_growth_kib * 1024 / max(whole.operations, 1),
                                    whole)
        got["g60_percent"] = Measured(
            whole.pss_growth_kib / max(whole.start.server_pss_kib, 1) * 100, whole)
    return got


def _json_of(what: str, command: list[str], env: dict[str, str] | None = None
             ) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env,
                          check=False)
    if done.returncode != 0:
        raise BenchmarkError(f"{what} failed: {done.stderr.strip()[-400:]}")
    record: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return record


def measure_floors(plan: Plan, core: int, chain: Path, key: Path, tree: Tree
                   ) -> dict[str, dict[str, Any]]:
    """A server-side handshake in memory on the server core: Debian's OpenSSL (Kamailio's
    library, from C), the same with the client chain verified, and the OpenSSL fakepeer
    runs on (through pyOpenSSL, in the first tree's environment)."""
    floor = compiled.build(compiled.FLOOR)
    seconds = ["--seconds", str(plan.floor_seconds)]
    common = [*pinned(core), str(floor), "--cert", str(chain), "--key", str(key), *seconds]
    sbc = tree.sbc
    return {
        "debian_openssl": _json_of("tlsfloor", common),
        "debian_openssl_mutual": _json_of("tlsfloor (mutual TLS)", [
            *common, "--client-cert", str(sbc.chain), "--client-key", str(sbc.key),
            "--ca", str(sbc.root)]),
        "fakepeer_openssl": _json_of("benchmarks/tls_floor.py", [
            *pinned(core), sys.executable, str(HERE / "tls_floor.py"), "--cert", str(chain),
            "--key", str(key), *seconds], env=fakepeer_environment(tree.path)),
    }


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except OSError:
        return "not installed"
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 \
        else "not installed"


def machine_facts(cores: tuple[int, int]) -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.machine())
    return {"cores": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "server_core": cores[0], "generator_core": cores[1],
            "python": platform.python_version(),
            "debian_openssl": _first_line(["openssl", "version"]),
            "kamailio": _first_line(["kamailio", "-v"]).removeprefix("version: ").strip(),
            "load_average_start": list(os.getloadavg())}


def choose_cores(text: str | None) -> tuple[int, int]:
    allowed = sorted(os.sched_getaffinity(0))
    if text is not None:
        try:
            server, generator = (int(part) for part in text.split(","))
        except ValueError:
            raise BenchmarkError(f"--cores {text!r}: give two cores as SERVER,GENERATOR, "
                                 "e.g. --cores 0,1") from None
        if server == generator or not {server, generator} <= set(allowed):
            raise BenchmarkError(f"--cores {text}: two different cores of {allowed}")
        return server, generator
    if len(allowed) < 2:
        raise BenchmarkError(f"this process may use {len(allowed)} core ({allowed}): the "
                             "benchmark pins the server and the generator to two different "
                             "cores; run it where two are free")
    return allowed[0], allowed[1]


def _timed(what: str, action: Callable[[], dict[str, Measured]]) -> dict[str, Measured]:
    started = time.monotonic()
    _say(f"  {what} ...")
    got = action()
    _say(f"  {what}: {time.monotonic() - started:.0f} s")
    return got


def run_benchmark(args: argparse.Namespace, plan: Plan, folder: Path) -> dict[str, Any]:
    cores = choose_cores(args.cores)
    os.sched_setaffinity(0, {cores[1]})  # this driver stays off the server core
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 5,000 idle connections
    facts = machine_facts(cores)
    started = time.monotonic()
    libraries = ("wolfssl", "openssl") if args.generator_tls == "auto" \
        else (args.generator_tls, args.generator_tls)
    generator = Generator(compiled.build(compiled.GENERATORS[libraries[0]]), cores[1],
                          cores[0], compiled.build(compiled.GENERATORS[libraries[1]]))
    _say("preparing each tree's certificates with its own fakepeer ...")
    trees = prepare([Path(tree).resolve() for tree in args.tree], folder)
    served: list[ServerUnderTest] = [FakepeerUnderTest(tree, folder, cores[0]) for tree in trees]
    with served[0].start(mutual_tls=False) as first:
        chain_pem = served_chain(first.port)
    key_pem = served_key(trees[0], chain_pem, folder)
    chain, key = folder / "served-chain.pem", folder / "served-key.pem"
    chain.write_bytes(chain_pem)
    key.write_bytes(key_pem)
    if not args.no_kamailio:
        (folder / "kamailio").mkdir()
        served.insert(0, KamailioUnderTest(chain_pem, key_pem, trees[0].sbc,
                                           folder / "kamailio", cores[0], args.kamailio_workers))
    series: Series = {server.name: {} for server in served}
    rounds: list[dict[str, Any]] = []
    floors: list[dict[str, dict[str, Any]]] = []

    def keep(name: str, got: dict[str, Measured]) -> dict[str, Any]:
        for key_name, measured in got.items():
            series[name].setdefault(key_name, []).append(measured)
        return {key_name: measured.record() for key_name, measured in got.items()}

    for number in range(1, plan.rounds + 1):
        _say(f"round {number}/{plan.rounds}")
        record: dict[str, Any] = {"round": number, "load_average": list(os.getloadavg())}
        _say("  TLS floor ...")  # each round's, so A is read against a floor as noisy as it
        floors.append(measure_floors(plan, cores[0], chain, key, trees[0]))
        record["floor"] = floors[-1]
        for server in served:
            got = _timed(server.name, partial(measure_round, server, generator, plan,
                                              pipeline=args.pipeline,
                                              idle=number <= plan.idle_rounds))
            record[server.name] = keep(server.name, got)
        rounds.append(record)
    growth: dict[str, Any] = {}
    _say("B memory growth")
    for server in served:
        got = _timed(f"{server.name} memory", partial(measure_growth, server, generator, plan,
                                                      pipeline=args.pipeline))
        growth[server.name] = keep(server.name, got)
    facts["load_average_end"] = list(os.getloadavg())
    facts["seconds"] = round(time.monotonic() - started)
    facts["generator"] = {"binary": str(generator.binary.relative_to(HERE.parent)),
                          **generator.facts}
    names = [server.name for server in served]
    labels = {"kamailio": "Kamailio"} | {tree.label: f"{tree.label} ({tree.commit})"
                                         for tree in trees}
    return {"machine": facts, "plan": asdict(plan), "pipeline": args.pipeline,
            "kamailio_workers": None if args.no_kamailio else args.kamailio_workers,
            "trees": [{"label": tree.label, "path": str(tree.path), "commit": tree.commit}
                      for tree in trees],
            "floor": floors, "rounds": rounds, "growth": growth,
            "table": figures.table(series, names, labels),
            "noise": {"cpu_spread": figures.spread(series, names, "us"),
                      "rate_spread": figures.spread(series, names, "/s"),
                      "others_on_server_core": _others(series)},
            "above_floor": _above_floor(series, names, floors),
            "problems": generator.problems}


def _others(series: Series) -> dict[str, float]:
    """The share of the server core other processes took, median and worst window."""
    shares = [m.window.others_core_share for by_key in series.values()
              for measured in by_key.values() for m in measured]
    return {"median": round(statistics.median(shares), 3), "max": round(max(shares), 3)}


def _above_floor(series: Series, names: list[str], floors: list[dict[str, dict[str, Any]]]
                 ) -> dict[str, list[float]]:
    """A's CPU per connection minus its own library's handshake floor of the same round."""
    above = {}
    for name in names:
        library = "debian_openssl" if name == "kamailio" else "fakepeer_openssl"
        values = [round(measured.value - floor[library]["server_us_median"])
                  for measured, floor in zip(series[name].get("a_cpu", []), floors,
                                             strict=False)]
        if values:
            above[name] = values
    return above


def _floor_range(floors: list[dict[str, dict[str, Any]]], library: str) -> str:
    values = [floor[library]["server_us_median"] for floor in floors]
    low, high = min(values), max(values)
    return f"{low:,.0f} us" if round(low) == round(high) else f"{low:,.0f}-{high:,.0f} us"


def report(result: dict[str, Any]) -> str:
    machine, floors = result["machine"], result["floor"]
    lines = [result["table"], ""]
    debian, ours = floors[0]["debian_openssl"], floors[0]["fakepeer_openssl"]
    lowest = min(floor["debian_openssl"]["server_us_median"] for floor in floors)
    lines.append(f"TLS floor (server side of one TLS 1.2 {debian['cipher']} handshake, "
                 f"{debian['group']}, RSA-2048 leaf, in memory on the server core, once per "
                 f"round): {debian['library_version']} (Kamailio's) "
                 f"{_floor_range(floors, 'debian_openssl')} (~{1e6 / lowest:,.0f}/s at best); "
                 f"{ours['library_version']} through pyOpenSSL (fakepeer's) "
                 f"{_floor_range(floors, 'fakepeer_openssl')}; with the client chain verified "
                 f"(Debian's) {_floor_range(floors, 'debian_openssl_mutual')}.")
    above = ", ".join(
        f"{name} {statistics.median(values):+,.0f} us"
        + ("" if len(values) == 1 else f" ({min(values):+,.0f} to {max(values):+,.0f})")
        for name, values in result["above_floor"].items())
    lines.append(f"A above its own library's floor of the same round (median, range): "
                 f"{above}.")
    generator = machine["generator"]
    negotiated = ", ".join(f"{name} {generator[name]}" for name in generator
                           if name not in ("binary", "library", "mutual TLS"))
    lines.append(f"Generator: {generator['binary']} ({generator['library']}; mutual TLS: "
                 f"{generator.get('mutual TLS', '-')}); servers pinned "
                 f"to core {machine['server_core']}, generator to core "
                 f"{machine['generator_core']}; negotiated: {negotiated}.")
    noise = result["noise"]
    lines.append(f"Machine: {machine['cores']} cores ({machine['cpu']}), Linux "
                 f"{machine['kernel']}, Python {machine['python']}, {machine['debian_openssl']}, "
                 f"{machine['kamailio']}; load average {machine['load_average_start'][0]:.2f} "
                 f"at start, {machine['load_average_end'][0]:.2f} at end; "
                 f"{machine['seconds']} s in all.")
    others = noise["others_on_server_core"]
    lines.append(f"Noise: other processes took {others['median']:.0%} of the server core "
                 f"in the median window ({others['max']:.0%} at worst); "
                 + ("one round, so no spread across rounds." if result["plan"]["rounds"] == 1
                    else f"across rounds CPU-per-operation figures spread up to "
                         f"{noise['cpu_spread']:.0%}, rates up to {noise['rate_spread']:.0%}."))
    problems = result["problems"]
    lines.append("Failures: none." if not problems else
                 f"Failures in {len(problems)} runs: " + "; ".join(problems[:10]))
    trees = "; ".join(f"{tree['label']} = {tree['path']} at {tree['commit']}"
                      for tree in result["trees"])
    lines.append(f"Trees: {trees}. Rounds: {result['plan']['rounds']}, alternating "
                 "Kamailio and each tree; ratios are fakepeer / Kamailio within a round.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", metavar="PATH",
                        help="a fakepeer checkout to benchmark (repeatable; default: this one)")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 5, quick 1)")
    parser.add_argument("--quick", action="store_true",
                        help="one round of short windows, C at 500 only and a 10 s memory "
                        "run (about 2 minutes with one tree)")
    parser.add_argument("--idle-rounds", type=int,
                        help="measure C in this many first rounds (default 1: opening "
                        "5,000 connections takes each server a while)")
    parser.add_argument("--json-out", type=Path, metavar="FILE",
                        help="write every raw figure, window and machine fact here")
    parser.add_argument("--no-kamailio", action="store_true",
                        help="fakepeer only (no ratios)")
    parser.add_argument("--kamailio-workers", type=int, default=1,
                        help="Kamailio TCP workers (default 1: 5.6.3 crashes under this "
                             "load with 2)")
    parser.add_argument("--generator-tls", choices=["auto", *sorted(compiled.GENERATORS)],
                        default="auto", help="the generator's TLS library (default auto: "
                        "wolfSSL, and OpenSSL for mutual TLS, the cheaper client of each)")
    parser.add_argument("--pipeline", type=int, default=1,
                        help="B: OPTIONS in flight per connection (default 1)")
    parser.add_argument("--cores", metavar="SERVER,GENERATOR",
                        help="the two cores to pin to (default: the first two allowed)")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    for name, value in (("rounds", args.rounds), ("idle_rounds", args.idle_rounds)):
        if value is not None:
            lowest = 1 if name == "rounds" else 0
            if not lowest <= value <= 50:
                parser.error(f"--{name.replace('_', '-')} {value}: give {lowest} to 50")
            plan = replace(plan, **{name: value})
    if not 1 <= args.pipeline <= 64:
        parser.error(f"--pipeline {args.pipeline}: give 1 to 64")
    args.tree = args.tree or [str(HERE.parent)]
    try:
        with tempfile.TemporaryDirectory(prefix="fakepeer-bench-") as tmp:
            result = run_benchmark(args, plan, Path(tmp))
    except (BenchmarkError, BuildError, GeneratorError, ServerError, TreeError) as error:
        sys.exit(f"benchmark: {error}")
    print(report(result))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=1) + "\n")
        _say(f"raw figures: {args.json_out}")


if __name__ == "__main__":
    main()
