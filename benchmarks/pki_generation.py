"""Benchmark: cold and warm generation of every era and defect, beside trustme.

Prints figures; asserts nothing. Run: python3 benchmarks/pki_generation.py [--rounds N]
The trustme figure makes the same number of certificates (one CA per six), with
trustme's default keys (EC P-256... per its KeyType default): the ratio compares whole
workloads, and fakepeer's is dominated by the real CAs' RSA-4096 keys.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import trustme

from fakepeer.pki import catalogue, mirrors
from fakepeer.pki.authority import IssueOptions
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.store import CertStore


def _pki(root: Path) -> Pki:
    options = IssueOptions()
    return Pki(CertStore(root, options.variant), options)


def cold_and_warm() -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "certs"
        pki = _pki(root)
        start = time.perf_counter()
        catalogue.generate(pki, list(mirrors.ERAS), with_defects=True)
        cold = time.perf_counter() - start
        made = len(pki.generated)
        warm_pki = _pki(root)
        start = time.perf_counter()
        catalogue.generate(warm_pki, list(mirrors.ERAS), with_defects=True)
        warm = time.perf_counter() - start
        assert warm_pki.generated == [], "a warm run must make nothing"
        return cold, warm, made


def trustme_same_count(count: int) -> float:
    """``count`` certificates from trustme: one CA per 6 leaves, its default key types."""
    start = time.perf_counter()
    made = 0
    while made < count:
        ca = trustme.CA()
        made += 1
        for i in range(min(5, count - made)):
            ca.issue_cert(f"host{i}.example.com")
            made += 1
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    colds, warms, trustmes = [], [], []
    made = 0
    for _ in range(args.rounds):
        cold, warm, made = cold_and_warm()
        colds.append(cold)
        warms.append(warm)
        trustmes.append(trustme_same_count(made))
    cold_m, warm_m, trust_m = (statistics.median(x) for x in (colds, warms, trustmes))
    print(f"certificates per full generation: {made} (every era, path and defect)")
    print(f"fakepeer cold  median {cold_m:6.2f} s  (runs: {', '.join(f'{c:.2f}' for c in colds)})"
          f"  goal <= 3 s")
    print(f"fakepeer warm  median {warm_m:6.3f} s  (runs: {', '.join(f'{w:.3f}' for w in warms)})"
          f"  goal <= 0.3 s")
    print(f"trustme, same number of certificates: median {trust_m:6.2f} s")
    print(f"ratio fakepeer cold / trustme: {cold_m / trust_m:5.2f}x")


if __name__ == "__main__":
    main()
