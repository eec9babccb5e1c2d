"""Trust store x 2026 scenario, with Kamailio 5.6 as the SBC: what Kamailio does and what
fakepeer records, printed as a table (one run; too slow for the suite, which drives only
README step 4's story, in tests/peers/test_kamailio_2026_rehearsal.py).

    PYTHONPATH=$PWD python3 -m tests.peers.matrix_2026 [--certs DIR] [SCENARIO ...]

Kamailio's dispatcher sends no SNI, so a scenario serving per-name chains is seen
through its default chain (regional-rollout-2026: sip's).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from twisted.internet import task
from twisted.internet.defer import Deferred

from fakepeer.pki.situation import sbc_chain
from tests.conftest import make_pki
from tests.peers.sbc_rehearsal import KAMAILIO_GOT_200, fakepeer, kamailio_outcome
from tests.serve.harness import serving

SCENARIOS = ("baseline-microsoft-2023", "rotated-root-2023-to-2026", "baseline-microsoft-2026",
             "path-2026-rsa-g5", "path-2026-ecc-g5", "path-2026-ecc-g3",
             "path-2026-rsa-microsoft-2017", "path-2026-ecc-microsoft-2017",
             "path-2026-rsa-self-signed-g2", "path-2026-ecc-self-signed-g2",
             "regional-rollout-2026", "revoked-g5-cross-sign-rsa",
             "distrusted-digicert-global-root-ca")
#: Each trust store: how it is exported (the seven: as `scenarios show` prints it).
TRUST_STORES = (
    ("G2 only", "fakepeer certs export --roots digicert-global-root-g2 --out g2.pem",
     ("ca_list", "g2.pem")),
    ("G2 + RSA 2017", "fakepeer certs export --roots digicert-global-root-g2 "
     "microsoft-rsa-root-2017 --out g2-rsa2017.pem", ("ca_list", "g2-rsa2017.pem")),
    ("the seven", "fakepeer certs export --roots microsoft-2026 --out roots/",
     ("ca_path", "roots")),
)


async def matrix(store: Path, scenarios: list[str], folder: Path) -> list[list[str]]:
    for _, command, _ in TRUST_STORES:
        fakepeer(store, folder, command)
    sbc = sbc_chain(make_pki(store), ("sbc.lab.example",))
    rows = []
    for scenario in scenarios:
        row = [scenario]
        for label, _, (setting, name) in TRUST_STORES:
            # one serve per trust store: the same SBC is one session, whose verdict is
            # written only when it changes
            async with serving(store, "--scenario", scenario) as server:
                outcome = await kamailio_outcome(
                    server, sbc, folder / f"k-{scenario}-{len(row)}", (setting, folder / name))
                said = "200 OK" if outcome.kamailio == KAMAILIO_GOT_200 else "refuses chain"
                verdict = outcome.verdict
                alert = next((e.get("alert") for e in outcome.events
                              if e["kind"] == "tls-failed"), None)
                recorded = f"TLS {verdict['tls']}" + (f" ({alert})" if alert else "")
                row.append(f"{said}; {recorded}; {verdict['outcome']}")
                print(f"  {scenario} x {label}: {row[-1]}", file=sys.stderr)
        rows.append(row)
    return rows


def table(rows: list[list[str]]) -> str:
    header = ["scenario", *(label for label, _, _ in TRUST_STORES)]
    lines = [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certs", type=Path, default=Path(tempfile.gettempdir()) /
                        "fakepeer-matrix-2026" / "certs")
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="matrix-2026-"))
    fakepeer(options.certs, folder, "fakepeer certs generate")

    async def main(_reactor: object) -> None:
        print(table(await matrix(options.certs, options.scenarios, folder)))

    task.react(lambda reactor: Deferred.fromCoroutine(main(reactor)))


if __name__ == "__main__":
    run()
