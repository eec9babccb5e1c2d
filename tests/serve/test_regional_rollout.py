"""The regional rollout as a real ``fakepeer serve`` serves it: openssl s_client asks for
each Teams signalling name in SNI and gets that name's path, and a verifier trusting
some of the seven roots does on each name what realize expects of that set-up."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509

from fakepeer import vocabulary
from fakepeer.pki import export
from fakepeer.realize import realize, realize_timeline
from fakepeer.scenario.load import load_catalogue, shipped_scenarios_dir
from tests.conftest import make_pki
from tests.serve.chains import served_chain
from tests.serve.harness import s_client_blocking, serving_process

CATALOGUE = load_catalogue([shipped_scenarios_dir()])
NAMES = ("sip.pstnhub.microsoft.com", "sip2.pstnhub.microsoft.com",
         "sip3.pstnhub.microsoft.com", "sip.g1.pstnhub.microsoft.com")
#: Verify codes of s_client: 0 ok, 20 unable to get local issuer certificate.
CODE_OF = {"accept": 0, "reject:unknown_ca": 20}


@pytest.fixture(scope="module")
def trust_stores(session_store: Path, tmp_path_factory: pytest.TempPathFactory
                 ) -> dict[str, Path]:
    """A CA file per trust-store set-up of the vocabulary."""
    folder = tmp_path_factory.mktemp("stores")
    pki = make_pki(session_store)
    stores = {}
    for setup in vocabulary.SBC_SETUPS.values():
        if setup.roots is not None:
            stores[setup.name] = folder / f"{setup.name}.pem"
            stores[setup.name].write_bytes(export.pem(
                [c.certificate for c in pki.certificates(setup.roots)]))
    return stores


@pytest.fixture(scope="module")
def regional(session_store):
    with serving_process(session_store, "--scenario", "regional-rollout-2026") as server:
        yield server


def _client(sbc_files, name: str, ca_file: Path) -> list[str]:
    return ["-servername", name, "-verify_hostname", name, "-CAfile", str(ca_file),
            "-cert", str(sbc_files.cert), "-key", str(sbc_files.key),
            "-cert_chain", str(sbc_files.chain)]


@pytest.mark.parametrize("name", NAMES)
def test_each_name_gets_its_own_path(regional, sbc_files, trust_stores, pki, name):
    """With the seven roots every name verifies; the chain each name is sent is the one
    realize says, up to the issuer of its top certificate (the anchor)."""
    serving = realize(CATALOGUE["regional-rollout-2026"], pki).serving_for(name)
    result = s_client_blocking(regional.port, "-showcerts",
                      *_client(sbc_files, name, trust_stores["seven-roots"]))
    assert result.verify_code == 0, result.output
    anchor = pki.certificate(serving.anchor).certificate
    top = serving.chain.sent[-1]
    assert top.issuer == anchor.subject
    assert export.pem([top]).decode().strip() in result.output


def _top_certificate(output: str) -> x509.Certificate:
    """The last certificate of an ``s_client -showcerts`` Certificate message."""
    block = output.split("-----BEGIN CERTIFICATE-----")[-1].split("-----END CERTIFICATE-----")[0]
    return x509.load_pem_x509_certificate(
        f"-----BEGIN CERTIFICATE-----{block}-----END CERTIFICATE-----\n".encode())


def test_the_four_names_get_four_paths_on_connections_open_at_once(regional, sbc_files,
                                                                  trust_stores, pki):
    """Four s_clients, one per name, each still connected when the last has verified:
    the one server sends each its own path at the same time (no phase, no restart)."""
    realized = realize(CATALOGUE["regional-rollout-2026"], pki)
    clients = {name: subprocess.Popen(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{regional.port}", "-showcerts",
         *_client(sbc_files, name, trust_stores["seven-roots"])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for name in NAMES}
    outputs = dict.fromkeys(NAMES, b"")
    try:
        for process in clients.values():
            assert process.stdout is not None
            os.set_blocking(process.stdout.fileno(), False)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(
                b"Verify return code" in out for out in outputs.values()):
            pipes = {clients[name].stdout: name for name in NAMES}
            ready, _, _ = select.select(list(pipes), [], [], 0.1)
            for pipe in ready:
                outputs[pipes[pipe]] += pipe.read() or b""
        still_connected = {name: clients[name].poll() is None for name in NAMES}
    finally:
        for process in clients.values():
            process.kill()
            process.wait(timeout=10)
    text = {name: out.decode(errors="replace") for name, out in outputs.items()}
    assert still_connected == dict.fromkeys(NAMES, True), text
    assert all("Verify return code: 0 (ok)" in text[name] for name in NAMES), text
    tops = {name: _top_certificate(text[name]) for name in NAMES}
    assert {name: tops[name].issuer for name in NAMES} == {
        name: pki.certificate(realized.serving_for(name).anchor).certificate.subject
        for name in NAMES}
    assert len({top.issuer for top in tops.values()}) == 4


@pytest.mark.parametrize("setup", ["g2-only", "g2-and-rsa-2017", "browser-policy"])
def test_two_of_the_seven_work_on_one_name_and_fail_on_another(regional, sbc_files,
                                                                trust_stores, pki, setup):
    """s_client with a partial trust store: verify codes per name are the ones realize's
    expectation for that set-up predicts (G2 and RSA 2017: only sip verifies)."""
    realized = realize(CATALOGUE["regional-rollout-2026"], pki)
    observed, predicted = {}, {}
    for name in NAMES:
        result = s_client_blocking(regional.port, *_client(sbc_files, name, trust_stores[setup]))
        observed[name] = result.verify_code
        predicted[name] = CODE_OF[realized.expectation_for(name, setup).code]
    assert observed == predicted
    if setup != "browser-policy":
        assert observed == {NAMES[0]: 0, NAMES[1]: 20, NAMES[2]: 20, NAMES[3]: 20}


def test_the_staged_variant_moves_name_by_name(pki):
    """Each phase moves one more name to its 2026 path; the last is the regional mix."""
    staged = realize_timeline(CATALOGUE["regional-rollout-2026-staged"], pki)
    paths = [{name: (r.serving_for(name).era, r.serving_for(name).path) for name in NAMES}
             for _, r in staged]
    old, mix = ("microsoft-2023", "digicert-g2"), realize(
        CATALOGUE["regional-rollout-2026"], pki)
    final = {name: (mix.serving_for(name).era, mix.serving_for(name).path) for name in NAMES}
    assert [phase.name for phase, _ in staged] == ["test-endpoint", "sip3", "sip2",
                                                    "everywhere"]
    moved = [sum(p[name] != old for name in NAMES) for p in paths]
    assert moved == [1, 2, 3, 4]
    assert paths[-1] == final
    assert all(p[name] in (old, final[name]) for p in paths for name in NAMES)


def _post_phase(http_port: int, index: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{http_port}/control/phase", method="POST",
        data=json.dumps({"index": index}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        return reply.status


def test_the_staged_variant_served_moves_the_names_when_the_phase_moves(
        session_store, sbc_files, trust_stores, pki):
    """Served for real: in the first phase only sip.g1 is on its 2026 path (sip3 still
    gets the 2023 chain); jumped to the last phase, every name gets the regional mix."""
    staged = realize_timeline(CATALOGUE["regional-rollout-2026-staged"], pki)
    with serving_process(session_store, "--scenario", "regional-rollout-2026-staged") as server:
        for index in (0, len(staged) - 1):
            if index:
                assert _post_phase(server.http_port, index) == 200
            expected = staged[index][1]
            tops = {name: served_chain(server.port, *_client(
                sbc_files, name, trust_stores["seven-roots"]))[-1] for name in NAMES}
            assert tops == {name: expected.serving_for(name).chain.sent[-1]
                            for name in NAMES}, index
            issuers = {name: top.issuer for name, top in tops.items()}
            if index == 0:
                assert issuers[NAMES[2]] == issuers[NAMES[0]] != issuers[NAMES[3]]
            else:
                assert len(set(issuers.values())) == 4
