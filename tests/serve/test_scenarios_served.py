"""Catalogue scenarios served for real: verdicts judged against the scenario's
expectation, SIP misbehaviour, per-name chains and timelines."""

from __future__ import annotations

import io
import re

import pytest_twisted

from fakepeer.cli.environment import Environment
from fakepeer.cli.main import main
from tests.inprocess import pause
from tests.serve.harness import s_client, s_client_exchange, serving
from tests.serve.test_tls_refusals import OPTIONS


def _client(sbc_files, anchors, era="microsoft-2026", *extra: str) -> list[str]:
    return ["-cert", str(sbc_files.cert), "-key", str(sbc_files.key), "-cert_chain",
            str(sbc_files.chain), "-CAfile", str(anchors[era]), *extra]


def _issuers(output: str) -> list[str]:
    return re.findall(r"^ *\d+ s:.*CN = (.*)$", output, re.MULTILINE)


@pytest_twisted.ensureDeferred
async def test_sbc_rejecting_an_expired_leaf_passes(session_store, sbc_files, anchors):
    """expired-leaf: an SBC that refuses the chain is judged PASS, with the alert named."""
    async with serving(session_store, "--scenario", "expired-leaf") as server:
        await s_client(server.port, *_client(sbc_files, anchors), "-verify_return_error")
        verdict = await server.next_event("verdict", 0)
    assert verdict["outcome"] == "PASS", verdict
    assert "certificate_expired" in verdict["cause"]


@pytest_twisted.ensureDeferred
async def test_sbc_accepting_an_expired_leaf_fails(session_store, sbc_files, anchors):
    """The negative twin: an SBC that ignores verification and sends OPTIONS is a FAIL."""
    async with serving(session_store, "--scenario", "expired-leaf") as server:
        result = await s_client_exchange(server.port, *_client(sbc_files, anchors),
                                         request=OPTIONS)
        assert "SIP/2.0 200 OK" in result.output
        verdict = await server.next_event("verdict", 0)
    assert verdict["outcome"] == "FAIL", verdict
    assert "accepted a chain it should refuse" in verdict["cause"]


@pytest_twisted.ensureDeferred
async def test_options_503_is_answered_and_left_to_check(session_store, sbc_files, anchors):
    """options-503 answers 503; the verdict asks to confirm the SBC marked the proxy down."""
    async with serving(session_store, "--scenario", "options-503") as server:
        result = await s_client_exchange(server.port, *_client(sbc_files, anchors), request=OPTIONS)
        assert "SIP/2.0 503" in result.output
        verdict = await server.next_event("verdict", 0)
    assert verdict["outcome"] == "CHECK", verdict


@pytest_twisted.ensureDeferred
async def test_options_never_answered(session_store, sbc_files, anchors):
    """options-no-answer reads the OPTIONS and says nothing."""
    async with serving(session_store, "--scenario", "options-no-answer") as server:
        result = await s_client_exchange(server.port, *_client(sbc_files, anchors), request=OPTIONS,
                                         timeout=2)
        assert "SIP/2.0" not in result.output
        request = await server.next_event("sip-request", 0)
    assert request["method"] == "OPTIONS" and request["fate"] == "ignored", request


@pytest_twisted.ensureDeferred
async def test_connection_reset_after_options(session_store, sbc_files, anchors):
    """connection-reset answers the OPTIONS with a TCP reset."""
    async with serving(session_store, "--scenario", "connection-reset") as server:
        result = await s_client_exchange(server.port, *_client(sbc_files, anchors), request=OPTIONS,
                                         timeout=3)
        assert "SIP/2.0" not in result.output
        closed = await server.next_event("closed", 0)
    assert "reset" in closed["reason"]


@pytest_twisted.ensureDeferred
async def test_staged_rollout_serves_another_chain_on_sip3(session_store, sbc_files, anchors):
    """Phase 1 of the staged rollout: sip3 gets the 2026 chain, sip the 2023 one."""
    async with serving(session_store, "--scenario", "staged-rollout") as server:
        on_sip3 = await s_client(server.port, "-showcerts", "-servername",
                                 "sip3.pstnhub.microsoft.com", *_client(sbc_files, anchors))
        on_sip = await s_client(server.port, "-showcerts", "-servername",
                                "sip.pstnhub.microsoft.com", *_client(sbc_files, anchors))
    assert "Microsoft TLS G2 RSA CA OCSP 02 (fakepeer lab)" in _issuers(on_sip3.output)
    assert "Microsoft Azure RSA TLS Issuing CA 03 (fakepeer lab)" in _issuers(on_sip.output)


@pytest_twisted.ensureDeferred
async def test_timeline_switches_chain_after_its_duration(session_store, sbc_files, anchors,
                                                   tmp_path):
    """A user scenario with a 1.5 s phase serves Baltimore first, then the 2026 chain."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "quick-flip.toml").write_text(
        'era = "microsoft-2020"\n'
        '[[phases]]\nname = "old"\nduration = 1.5\n'
        '[[phases]]\nname = "new"\nera = "microsoft-2026"\n')
    async with serving(session_store, "--scenario", "quick-flip", "--scenarios", str(folder)) as s:
        before = await s_client(s.port, "-showcerts", *_client(sbc_files, anchors))
        await s.wait_for(lambda e: e["kind"] == "serving" and e["phase"] == "new", timeout=10)
        await pause(0.1)
        after = await s_client(s.port, "-showcerts", *_client(sbc_files, anchors))
    assert "Microsoft RSA TLS CA 01 (fakepeer lab)" in _issuers(before.output)
    assert "Microsoft TLS G2 RSA CA OCSP 02 (fakepeer lab)" in _issuers(after.output)


def test_unknown_scenario_suggests_the_near_one(session_store):
    """--scenario with a typo fails with the one wording for an unknown scenario and a
    suggestion (before: 'no scenario ...; known:' and all the names on one line)."""
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO(), variables={})
    status = main(["serve", "--certs", str(session_store), "--scenario", "expired-leef"], env)
    assert status == 1
    stderr = env.stderr.getvalue()
    assert stderr.startswith("fakepeer: error: unknown scenario 'expired-leef' (did you "
                             "mean 'expired-leaf'?); `fakepeer scenarios list` shows all ")
    assert "baseline-genesys" not in stderr


@pytest_twisted.ensureDeferred
async def test_leaf_attributes_are_overridable(session_store, sbc_files, anchors, tmp_path):
    """A scenario's [leaf] table (and --leaf-* options) change the served leaf: names,
    key and lifetime; openssl sees them and checks the new name."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "own-leaf.toml").write_text(
        'era = "microsoft-2026"\n[leaf]\ncommon_name = "sip.lab.example"\n'
        'dns_names = ["sip.lab.example", "*.lab.example"]\nkey = "rsa3072"\ndays = 30\n')
    async with serving(session_store, "--scenario", "own-leaf", "--scenarios", str(folder)) as s:
        result = await s_client(s.port, *_client(sbc_files, anchors), "-verify_hostname",
                                "sip2.lab.example", "-verify_return_error")
        wrong = await s_client(s.port, *_client(sbc_files, anchors), "-verify_hostname",
                               "sip.pstnhub.microsoft.com", "-verify_return_error")
    assert "s:C = US, ST = WA, L = Redmond, O = Microsoft Corporation, CN = sip.lab.example" \
        in result.output
    assert "a:PKEY: rsaEncryption, 3072 (bit)" in result.output
    assert "Verify return code: 0 (ok)" in result.output
    assert "verify error:num=62" in wrong.output


@pytest_twisted.ensureDeferred
async def test_leaf_options_on_the_command_line(session_store, sbc_files, anchors):
    """--leaf-name and --leaf-key override the default scenario's leaf."""
    async with serving(session_store, "--leaf-name", "teams.lab.example", "--leaf-key",
                       "rsa4096") as server:
        result = await s_client(server.port, *_client(sbc_files, anchors), "-verify_hostname",
                                "teams.lab.example", "-verify_return_error")
    assert "CN = teams.lab.example" in result.output
    assert "a:PKEY: rsaEncryption, 4096 (bit)" in result.output
    assert "Verify return code: 0 (ok)" in result.output
