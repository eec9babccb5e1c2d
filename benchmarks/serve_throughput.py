"""Benchmark: fakepeer serve beside Kamailio (C, tls module, sl_send_reply) on loopback.

Prints figures; asserts nothing. Run from the repository root:
    python3 benchmarks/serve_throughput.py [--seconds 5] [--idle 2000]

Both servers present the same mirrored 2026 chain, require a client certificate from
the same trusted CA and allow the same four ECDHE-RSA suites. Measured:
  (a) new TLS connections per second, each carrying one OPTIONS -> 200 OK;
  (b) OPTIONS per second over persistent TLS connections;
  (c) memory per idle TLS connection with N open (RSS, or PSS summed over Kamailio's
      processes, measured before and after opening them).
The load generator runs in two processes; its own CPU time per operation is printed
with the ceiling it implies, so a figure near that ceiling is the generator's, not the
server's.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import loadgen
from fakepeer.pki import export
from fakepeer.pki.keys import private_key_pem
from fakepeer.pki.situation import Situation, build_situation, sbc_chain
from tests.conftest import make_pki
from tests.peers.kamailio import kamailio
from tests.serve.harness import serving

WORKERS = 2


def _worker(args: tuple[str, int, str, str, str, float, int]) -> tuple[int, int, float, float]:
    mode, port, bundle, key, _, seconds, concurrency = args
    context = loadgen.client_context(Path(bundle), Path(key))
    deadline = time.monotonic() + seconds
    ok = failed = 0
    cpu0 = time.process_time()
    start = time.perf_counter()

    async def run() -> None:
        nonlocal ok, failed
        if mode == "new":
            while time.monotonic() < deadline:
                result = await loadgen.new_connections("127.0.0.1", port, context,
                                                       concurrency, concurrency, graceful=False)
                ok += result.ok
                failed += result.failed
        else:
            async def one_connection() -> None:
                nonlocal ok, failed
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
                while time.monotonic() < deadline:
                    writer.write(loadgen.options_request())
                    status = await loadgen.read_response(reader)
                    ok += status == 200
                    failed += status != 200
                writer.close()

            await asyncio.gather(*(one_connection() for _ in range(concurrency)))

    asyncio.run(run())
    return ok, failed, time.perf_counter() - start, time.process_time() - cpu0


def measure_rate(mode: str, port: int, bundle: Path, key: Path, seconds: float,
                 concurrency: int) -> tuple[float, float, int]:
    """Operations per second over WORKERS generator processes, generator CPU s per op,
    and failures."""
    jobs = [(mode, port, str(bundle), str(key), "", seconds, concurrency)] * WORKERS
    with multiprocessing.Pool(WORKERS) as pool:
        results = pool.map(_worker, jobs)
    ok = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    wall = max(r[2] for r in results)
    cpu = sum(r[3] for r in results)
    return ok / wall, cpu / max(ok, 1), failed


def memory_kib(pids: list[int]) -> int:
    """PSS summed over processes (shared pages split fairly), in KiB."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total


def children_of(pid: int) -> list[int]:
    out = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().split()
            except OSError:
                continue
            if int(stat[3]) == pid:
                out.append(int(entry.name))
    return out


def measure_idle(port: int, pids_of: callable, bundle: Path, key: Path, count: int
                 ) -> tuple[float, int]:
    context = loadgen.client_context(bundle, key)

    async def run() -> tuple[int, int]:
        before = memory_kib(pids_of())
        idle = loadgen.IdleConnections()
        result = await idle.open("127.0.0.1", port, context, count, concurrency=100,
                                 timeout=300)
        await asyncio.sleep(1.0)
        after = memory_kib(pids_of())
        await idle.close()
        return after - before, result.ok

    delta, ok = asyncio.run(run())
    return delta / max(ok, 1), ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    loadgen.raise_fd_limit()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = folder / "certs"
        pki = make_pki(store)
        served = build_situation(pki, Situation(era="microsoft-2026"))
        sbc = sbc_chain(pki, ("sbc.lab.example",))
        bundle, key = folder / "sbc.pem", folder / "sbc.key.pem"
        bundle.write_bytes(export.pem(sbc.sent))
        key.write_bytes(private_key_pem(sbc.key))
        figures: dict[str, dict[str, float]] = {}
        with serving(store, "--idle-timeout", "600") as server:
            pid = server.process.pid
            figures["fakepeer"] = _measure(server.port, lambda: [pid], bundle, key, args)
        with kamailio(folder / "kamailio", export.pem(served.sent), private_key_pem(served.key),
                      ca_pem=export.pem(sbc.trust_anchors), require_certificate=True,
                      method="TLSv1.2", children=1) as reference:
            kpid = reference.process.pid
            figures["kamailio"] = _measure(reference.port, lambda: children_of(kpid), bundle,
                                           key, args)
    _report(figures, args)


def _measure(port: int, pids_of: callable, bundle: Path, key: Path,
             args: argparse.Namespace) -> dict[str, float]:
    new_rate, new_cpu, new_failed = measure_rate("new", port, bundle, key, args.seconds,
                                                 args.concurrency)
    persistent_rate, persistent_cpu, persistent_failed = measure_rate(
        "persistent", port, bundle, key, args.seconds, args.concurrency)
    per_idle, idle_ok = measure_idle(port, pids_of, bundle, key, args.idle)
    return {"new": new_rate, "new_cpu": new_cpu, "new_failed": new_failed,
            "persistent": persistent_rate, "persistent_cpu": persistent_cpu,
            "persistent_failed": persistent_failed, "idle_kib": per_idle, "idle_ok": idle_ok}


def _report(figures: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    ours, ref = figures["fakepeer"], figures["kamailio"]
    cores = os.cpu_count() or 1
    print(f"machine: {cores} cores; generator: {WORKERS} processes x {args.concurrency} "
          f"connections; {args.seconds:g} s per measurement")
    print(f"{'':38}{'fakepeer':>12}{'kamailio':>12}{'ratio':>8}   goal")
    print(f"{'(a) new TLS connections/s (+OPTIONS)':38}{ours['new']:12.0f}{ref['new']:12.0f}"
          f"{ours['new'] / ref['new']:8.2f}   >= 0.7")
    print(f"{'(b) OPTIONS/s, persistent connections':38}{ours['persistent']:12.0f}"
          f"{ref['persistent']:12.0f}{ours['persistent'] / ref['persistent']:8.2f}   >= 0.3")
    print(f"{'(c) KiB per idle TLS connection':38}{ours['idle_kib']:12.1f}"
          f"{ref['idle_kib']:12.1f}{ours['idle_kib'] / max(ref['idle_kib'], 0.1):8.2f}"
          f"   <= 64 KiB (fakepeer)")
    print(f"    idle connections held: fakepeer {ours['idle_ok']:.0f}, kamailio "
          f"{ref['idle_ok']:.0f} of {args.idle}")
    print(f"    failures: fakepeer {ours['new_failed'] + ours['persistent_failed']:.0f}, "
          f"kamailio {ref['new_failed'] + ref['persistent_failed']:.0f}")
    for name, key in (("(a)", "new_cpu"), ("(b)", "persistent_cpu")):
        per_op = max(ours[key], ref[key])
        print(f"generator ceiling {name}: {per_op * 1e3:.2f} ms CPU per operation -> at most "
              f"{1 / per_op:.0f}/s per generator core ({cores} cores shared with the server)")


if __name__ == "__main__":
    main()
