"""Benchmark: cold and warm generation of every era and defect, before and after.

Prints figures; asserts nothing. Run from a checkout:

    python3 benchmarks/pki_generation.py [--rounds N] [--baseline /work/baseline]

Each figure comes from a fresh process per run, with ``PYTHONPATH`` set to the tree being
measured; the trees take turns round by round, so a busy shared machine slows them alike.
Three figures per tree:

- **cold**: an empty store and no key pool: every key is generated (six RSA 4096 CA keys
  dominate; the real CAs use them).
- **cold, pool**: no certificate and no key assigned yet, but the store's key pool was
  filled beforehand by ``fakepeer certs pool`` (untimed; its own time is printed): the
  generation only signs. This is "cold" for a store prepared ahead of time (after the
  install, in a CI image, in the background); only trees that have the pool show it.
- **warm**: the same generation again over the complete store: nothing is made.

Wall time is the figure the user waits for; CPU time (user + system, all threads) is the
one that a shared machine disturbs least. trustme making the same number of
certificates (its default EC keys, one CA per six) is printed for scale.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
CHECKOUT = HERE.parent.parent
GOALS = {"cold": 2.0, "pool": 2.0, "warm": 0.3}
TITLES = {"cold": "cold (empty store, no pool)", "pool": "cold, key pool filled before",
          "warm": "warm (complete store)"}


# -- the child: one measured run in a fresh process ----------------------------------------


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _generate(root: Path) -> tuple[float, float, dict[str, int]]:
    """One full generation (every era, path and defect) into ``root``: wall, CPU, counts."""
    from fakepeer import generation
    from fakepeer.pki import mirrors
    from fakepeer.pki.authority import IssueOptions
    from fakepeer.pki.hierarchy import Pki
    from fakepeer.pki.store import CertStore

    options = IssueOptions()
    pki = Pki(CertStore(root, options.variant), options)
    wall, cpu = time.perf_counter(), _cpu()
    generation.generate(pki, list(mirrors.ERAS), with_defects=True)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    counts = {"certificates": len(pki.generated),
              "keys_generated": getattr(pki, "keys_generated", -1),
              "keys_from_pool": getattr(pki, "keys_from_pool", -1)}
    return wall, cpu, counts


def _fill_pool(root: Path) -> float | None:
    """``fakepeer certs pool`` as a user runs it; None when the tree has no such command."""
    from fakepeer.cli.environment import Environment
    from fakepeer.cli.main import main

    quiet = Environment(stdout=io.StringIO(), stderr=io.StringIO(), variables={}, cwd=root.parent)
    start = time.perf_counter()
    status = main(["certs", "pool", "--certs", str(root)], quiet)
    return time.perf_counter() - start if status == 0 else None


def child(mode: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="pki-bench-") as tmp:
        root = Path(tmp) / "certs"
        result: dict[str, object] = {"mode": mode}
        if mode == "pool":
            fill = _fill_pool(root)
            if fill is None:
                return {"mode": mode, "unsupported": True}
            result["pool_fill"] = fill
        wall, cpu, counts = _generate(root)
        result.update(cold_wall=wall, cold_cpu=cpu, **counts)
        wall, cpu, again = _generate(root)
        result.update(warm_wall=wall, warm_cpu=cpu, warm_made=again["certificates"])
        return result


# -- the parent: alternate trees, print the table ------------------------------------------


def _run_child(tree: Path, mode: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, str(HERE), "--child", mode], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: the {mode} run failed:\n{done.stderr}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _trustme_seconds(count: int) -> float:
    import trustme

    start = time.perf_counter()
    made = 0
    while made < count:
        ca = trustme.CA()
        made += 1
        for i in range(min(5, count - made)):
            ca.issue_cert(f"host{i}.example.com")
            made += 1
    return time.perf_counter() - start


def _line(tree: str, figure: str, walls: list[float], cpus: list[float]) -> str:
    goal = GOALS["warm" if figure == "warm" else figure]
    median = statistics.median(walls)
    verdict = "meets" if median <= goal else "misses"
    return (f"{tree:<10} {TITLES[figure]:<31} {median:6.2f} s  {min(walls):5.2f}-"
            f"{max(walls):5.2f}  CPU {statistics.median(cpus):5.2f} s  "
            f"{verdict} <= {goal:g} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs per tree and figure")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="an older checkout to measure beside this one (before/after)")
    parser.add_argument("--child", choices=["cold", "pool"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    trees = {"after": CHECKOUT}
    if args.baseline:
        trees = {"before": args.baseline.resolve(), **trees}
    cores = len(os.sched_getaffinity(0))
    print(f"{cores} usable cores; load average at start {os.getloadavg()[0]:.2f}; "
          f"{args.rounds} rounds, trees alternating: "
          + ", ".join(f"{name}={path}" for name, path in trees.items()))
    runs: dict[tuple[str, str], list[dict[str, object]]] = {}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            for mode in ("cold", "pool"):
                result = _run_child(tree, mode)
                if not result.get("unsupported"):
                    runs.setdefault((name, mode), []).append(result)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    print(f"{'tree':<10} {'figure':<31} {'median':>8}  {'range':>11}  CPU median")
    made = 0
    for name in trees:
        for mode in ("cold", "pool"):
            results = runs.get((name, mode), [])
            if not results:
                continue
            made = int(str(results[0]["certificates"]))
            print(_line(name, mode, [float(str(r["cold_wall"])) for r in results],
                        [float(str(r["cold_cpu"])) for r in results]))
        cold = runs.get((name, "cold"), [])
        print(_line(name, "warm", [float(str(r["warm_wall"])) for r in cold],
                    [float(str(r["warm_cpu"])) for r in cold]))
    for name in trees:
        pool = runs.get((name, "pool"), [])
        if pool:
            fills = [float(str(r["pool_fill"])) for r in pool]
            live = statistics.median(int(str(r["keys_generated"])) for r in pool)
            taken = statistics.median(int(str(r["keys_from_pool"])) for r in pool)
            print(f"{name}: `fakepeer certs pool` beforehand took {statistics.median(fills):.2f} s "
                  f"(median); the pooled cold run took {taken:g} keys from the pool and "
                  f"generated {live:g}")
    print(f"certificates per full generation: {made} (every era, path and defect); "
          f"trustme, same number of certificates: {_trustme_seconds(made):.2f} s")


if __name__ == "__main__":
    main()
