"""The session consumer: when a verdict is emitted, what updates it, both directions,
how connections group into SBC sessions, and that it keeps no history."""

from __future__ import annotations

import dataclasses
import tracemalloc
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakepeer.report import events as ev
from fakepeer.report.judging import verdict_line
from fakepeer.report.sessions import (
    HEALTHCHECK_FQDN,
    HEALTHCHECK_USER_AGENT,
    SessionJudge,
    judge_all,
)
from tests.report.wire import SBC_CERTIFICATE, SBC_NAME, T0, Dial, Wire, link, served, serving

WINDOW = 30.0


def growth(warm_up, measured) -> int:
    """Bytes still allocated after ``measured`` ran, counted from after ``warm_up`` (both
    traced, so what the warm-up kept and the measured part frees counts too)."""
    return _growth(warm_up, measured)[0]


def growth_in_blocks(warm_up, measured) -> tuple[int, int]:
    """(bytes, live allocations) still held after ``measured``: a dict that resizes
    swaps one table for another (bytes move, the count does not), while anything kept
    per connection adds at least one allocation each time."""
    return _growth(warm_up, measured)


def _growth(warm_up, measured) -> tuple[int, int]:
    tracemalloc.start()
    try:
        warm_up()
        before = tracemalloc.take_snapshot()
        measured()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    stats = after.compare_to(before, "filename")
    return sum(stat.size_diff for stat in stats), sum(stat.count_diff for stat in stats)


def run(records, *, window: float = WINDOW):
    verdicts: list[ev.SessionVerdict] = []
    judge = SessionJudge(verdicts.append, window=window)
    for record in records:
        judge(record)
    return judge, verdicts


# --- when -----------------------------------------------------------------------------


def test_pass_while_the_connection_is_open():
    """A persistent connection is judged at its first answered OPTIONS, not at close;
    further OPTIONS with the same answer emit nothing."""
    wire = Wire()
    judge, verdicts = run([serving(), wire.accepted(), wire.established(), wire.options(5.0)])
    assert [v.outcome for v in verdicts] == ["PASS"]
    assert verdicts[0].time == wire.at(5.0)
    for n in range(2, 50):
        judge(wire.options(5.0 * n, cseq=n))
    assert len(verdicts) == 1 and judge.judged == 1
    view = judge.sessions()[0]
    assert view.open[0].options == 49 and view.open[0].state == "sip"


def test_failure_after_success_updates_and_says_what_changed():
    """A later refusal on the same connection turns the session's verdict to FAIL."""
    wire = Wire()
    _, verdicts = run([serving(), wire.accepted(), wire.established(), wire.options(1.0),
                       wire.options(6.0, status=403, answer_reason="contact-ip", cseq=2),
                       wire.options(11.0, cseq=3)])
    assert [v.outcome for v in verdicts] == ["PASS", "FAIL", "PASS"]
    assert verdicts[1].previous == "PASS"
    assert verdicts[1].changed.startswith("was PASS: the SBC accepted the chain")


def test_a_tls_failure_on_a_reconnect_updates_the_session():
    """The same SBC (same certificate) reconnecting and failing updates its one session."""
    first, second = Wire(connection=1), Wire(connection=3, peer="192.0.2.20:40001")
    _, verdicts = run([serving(), first.accepted(), first.established(), first.options(),
                       first.closed(3.0), second.accepted(4.0),
                       second.failed(4.1, alert="unknown_ca", certificate=SBC_CERTIFICATE)])
    assert [(v.session, v.connection, v.outcome) for v in verdicts] == [
        (1, 1, "PASS"), (1, 3, "FAIL")]
    assert verdicts[1].identity.name == SBC_NAME


def test_the_window_decides_through_tick():
    """With no decisive fact the judge asks for a deadline and decides when ticked."""
    wire = Wire()
    judge, verdicts = run([serving(), wire.accepted(), wire.established(0.5)])
    assert judge.next_deadline() == wire.at(0.5 + WINDOW)
    judge.tick(wire.at(WINDOW))
    assert verdicts == []
    judge.tick(wire.at(WINDOW + 0.5))
    assert [v.outcome for v in verdicts] == ["FAIL"]
    assert judge.next_deadline() is None


def test_port_checks_are_counted_never_judged():
    """A TCP connect and close before any TLS (a load balancer) makes no verdict."""
    checks = [Wire(connection=n, peer=f"198.51.100.7:{40000 + n}") for n in range(1, 4)]
    records = [serving(expect="reject:unknown_ca")]
    for wire in checks:
        records += [wire.accepted(), wire.closed(0.01)]
    judge, verdicts = run(records)
    judge.tick(T0 + timedelta(hours=1))
    assert verdicts == [] and judge.port_checks == 3
    assert judge.counts() == {} and judge.judged == 0


# --- both directions -----------------------------------------------------------------


def dialback_scenario(**kwargs):
    inbound = Wire(served=served(dialback=True))
    outbound = Dial(served=served(dialback=False))
    return inbound, outbound, [serving(dialback=True, **kwargs), inbound.accepted(),
                               inbound.established(), inbound.options(1.0)]


def test_a_refused_dial_back_fails_the_session():
    """Kamailio refusing fakepeer's serverAuth-only client chain: FAIL with the alert,
    although the SBC's own connection got 200 OK (today: PASS)."""
    reason = ("A correct SBC accepts fakepeer's dial-back. An SBC that checks the TLS client "
              "purpose refuses with unsupported_certificate (OpenSSL error 26).")
    inbound, outbound, records = dialback_scenario(reason=reason)
    records += [link(inbound, 1.0), outbound.started(1.0),
                outbound.failed(1.2, alert="unsupported_certificate")]
    judge, verdicts = run(records)
    assert [v.outcome for v in verdicts] == ["FAIL"]
    verdict = verdicts[0]
    assert (verdict.direction, verdict.inbound, verdict.outbound) == ("outbound", "PASS", "FAIL")
    assert verdict.alert == "unsupported_certificate"
    assert verdict.cause.startswith("dial-back: the SBC refused fakepeer's connection")
    assert "unsupported_certificate (OpenSSL error 26)" in verdict.hint
    assert verdict.dialback.startswith("Error")
    assert judge.counts() == {"FAIL": 1}


def test_an_accepted_dial_back_passes_both_directions():
    """PASS only once the dial-back answered 200 as well; nothing is printed between."""
    inbound, outbound, records = dialback_scenario()
    records += [link(inbound, 1.0), outbound.started(1.0), outbound.established(1.1),
                outbound.check(1.2)]
    judge, verdicts = run(records)
    assert verdicts == []
    assert judge.sessions()[0].dialback.startswith("Pending")
    for record in (outbound.sent(1.3), outbound.answered(1.4), outbound.closed(1.5)):
        judge(record)
    assert [(v.outcome, v.inbound, v.outbound) for v in verdicts] == [("PASS", "PASS", "PASS")]
    assert verdicts[0].dialback.startswith("Active")


def test_a_dial_back_never_tried_is_incomplete():
    """A required direction never tried keeps the verdict INCOMPLETE, never PASS."""
    inbound, _, records = dialback_scenario(setup="Route the Contact FQDN and port to the SBC.")
    judge, verdicts = run(records)
    judge.tick(inbound.at(1.0 + WINDOW))
    assert [v.outcome for v in verdicts] == ["INCOMPLETE"]
    assert "no dial-back was tried within 30 s" in verdicts[0].cause
    assert verdicts[0].hint == "Route the Contact FQDN and port to the SBC."


def test_a_dial_back_that_could_not_start_is_incomplete_at_once():
    """An unresolvable Contact is said at once, with the set-up to fix."""
    inbound, _, records = dialback_scenario()
    records.append(link(inbound, 1.0, outbound=None,
                        problem="cannot resolve sbc.lab.example; map it with --sbc"))
    _, verdicts = run(records)
    assert [v.outcome for v in verdicts] == ["INCOMPLETE"]
    assert "no dial-back was tried: cannot resolve" in verdicts[0].cause


def test_a_cached_dial_back_result_serves_a_reconnect():
    """A reconnect whose dial-back reuses an earlier result is judged with it."""
    inbound, outbound, records = dialback_scenario()
    again = Wire(connection=3, peer="192.0.2.20:40001", served=served(dialback=True))
    records += [link(inbound, 1.0), outbound.started(1.0), outbound.established(1.1),
                outbound.check(1.2), outbound.sent(1.3), outbound.answered(1.4),
                outbound.closed(1.5), inbound.closed(2.0), again.accepted(3.0),
                again.established(3.1), again.options(3.2), link(again, 3.2)]
    judge, verdicts = run(records)
    judge.tick(again.at(3.2 + WINDOW))
    assert [(v.connection, v.outcome, v.outbound) for v in verdicts] == [(1, "PASS", "PASS")]


def test_a_probe_is_its_own_session():
    """fakepeer probe's connection is judged alone, by the name dialled."""
    probe = Dial(connection=7, purpose="probe", served=served())
    _, verdicts = run([probe.started(), probe.connect_failed(0.2)])
    assert [(v.outcome, v.direction, v.identity.name) for v in verdicts] == [
        ("FAIL", "outbound", SBC_NAME)]
    assert "TCP connect to sbc.lab.example failed" in verdicts[0].cause


def test_the_cloud_refusing_the_sbc_certificate_fails_the_dial():
    """fakepeer's check of the SBC's server certificate (as the cloud) decides too."""
    probe = Dial(connection=7, purpose="probe", served=served())
    _, verdicts = run([probe.started(), probe.established(0.1),
                       probe.check(0.2, "the certificate does not name sbc.lab.example")])
    assert verdicts[-1].outcome == "FAIL"
    assert "refuses the SBC's certificate" in verdicts[-1].cause


# --- grouping ---------------------------------------------------------------------------


def test_one_session_per_sbc_identity():
    """Two SBCs from one lab host (one address) are two sessions: by certificate, then by
    Contact; a failed handshake without identity joins its address's last SBC."""
    other = dataclasses.replace(SBC_CERTIFICATE, subject="CN=sbc2.lab.example",
                                sans=("sbc2.lab.example",))
    a = Wire(connection=1, peer="127.0.0.1:40001")
    b = Wire(connection=2, peer="127.0.0.1:40002")
    c = Wire(connection=3, peer="127.0.0.1:40003")
    judge, verdicts = run([serving(), a.accepted(), a.established(), a.options(),
                           b.accepted(), b.established(certificate=other),
                           b.options(contact="sbc2.lab.example"),
                           c.accepted(), c.failed(alert="unknown_ca")])
    assert [(v.session, v.identity.name, v.outcome) for v in verdicts] == [
        (1, SBC_NAME, "PASS"), (2, "sbc2.lab.example", "PASS"), (2, "sbc2.lab.example", "FAIL")]
    names = {view.identity.name for view in judge.sessions()}
    assert names == {SBC_NAME, "sbc2.lab.example"}


def test_without_certificate_the_contact_names_the_session():
    """Genesys: no client certificate, so the Contact FQDN groups connections."""
    a = Wire(connection=1, peer="10.0.0.5:40001")
    b = Wire(connection=2, peer="10.0.0.6:40002")
    _, verdicts = run([serving(), a.accepted(), a.established(certificate=None), a.options(),
                       b.accepted(), b.established(certificate=None),
                       b.options(status=403, answer_reason="contact-ip")])
    assert [(v.session, v.identity.contact) for v in verdicts] == [(1, SBC_NAME), (1, SBC_NAME)]
    assert verdicts[1].identity.addresses == ("10.0.0.5", "10.0.0.6")


def test_an_unknown_address_gets_its_own_session():
    """A failed handshake from an address no SBC came from is named by the address."""
    wire = Wire(peer="203.0.113.9:50000")
    _, verdicts = run([serving(), wire.accepted(), wire.failed(alert="unknown_ca")])
    assert verdicts[0].identity.name == "203.0.113.9"


@pytest.mark.parametrize("how", ["user-agent", "certificate"])
def test_healthcheck_connections_are_labelled(how):
    """fakepeer healthcheck is recognised by its User-Agent or its lab FQDN and left out
    of the counts."""
    certificate = (dataclasses.replace(SBC_CERTIFICATE, subject=f"CN={HEALTHCHECK_FQDN}",
                                       sans=(HEALTHCHECK_FQDN,))
                   if how == "certificate" else SBC_CERTIFICATE)
    wire = Wire()
    judge, verdicts = run([serving(), wire.accepted(), wire.established(certificate=certificate),
                           wire.options(user_agent=HEALTHCHECK_USER_AGENT, contact=(
                               HEALTHCHECK_FQDN if how == "certificate" else SBC_NAME))])
    assert verdicts[0].identity.healthcheck
    assert "(healthcheck)" in verdict_line(verdicts[0])
    assert judge.counts() == {}


def test_summary_lines_per_session():
    """Ctrl-C prints one block per session with its verdict and counts."""
    wire = Wire()
    judge, _ = run([serving(), wire.accepted(), wire.established(), wire.options(),
                    wire.options(2.0, cseq=2), Wire(connection=5).accepted(),
                    Wire(connection=5).closed(0.1)])
    lines = judge.summary_lines()
    assert lines[0].startswith("PASS sbc.lab.example #1:")
    assert lines[1] == "  1 connection, 2 OPTIONS received, 1 port check"
    assert lines[-1].startswith("1 connection closed before TLS")


# --- memory and orders ---------------------------------------------------------------------


def test_memory_stays_flat_over_100000_options():
    """100,000 OPTIONS on one connection: the consumer keeps running facts, not history.
    (A pool of 1,000 records is fed 100 times, so only the consumer allocates.)"""
    wire = Wire()
    judge, verdicts = run([serving(), wire.accepted(), wire.established()])
    template = wire.options(1.0)
    pool = [dataclasses.replace(template, time=wire.at(1.0 + n), cseq=n) for n in range(1000)]

    def feed(times: int):
        for _ in range(times):
            for record in pool:
                judge(record)

    grown = growth(lambda: feed(1), lambda: feed(100))  # warm-up, then 100,000 OPTIONS
    assert grown < 16 * 1024, f"the consumer grew by {grown} bytes"
    assert len(verdicts) == 1
    assert judge.sessions()[0].open[0].options == 101_000


def _script(wire: Wire, kind: str, certificate: ev.Certificate):
    if kind == "pass":
        return [wire.accepted(), wire.established(certificate=certificate),
                wire.options(contact=certificate.sans[0]), wire.closed()]
    if kind == "refused":
        return [wire.accepted(), wire.failed(alert="unknown_ca", certificate=certificate)]
    if kind == "silent":
        return [wire.accepted(), wire.established(certificate=certificate), wire.closed()]
    return [wire.accepted(), wire.closed()]  # a port check


EXPECTED = {"pass": "PASS", "refused": "FAIL", "silent": "FAIL"}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=st.lists(st.sampled_from(["pass", "refused", "silent", "port"]), min_size=1,
                      max_size=6),
       order=st.randoms(use_true_random=False))
def test_interleaved_connections_keep_their_own_verdicts(kinds, order):
    """However the records of several SBCs' connections interleave (each connection's
    own order kept, the clock running with the stream), every SBC ends with the verdict
    of its own connection and port checks only count."""
    scripts = []
    for n, kind in enumerate(kinds):
        name = f"sbc{n}.lab.example"
        certificate = dataclasses.replace(SBC_CERTIFICATE, subject=f"CN={name}", sans=(name,))
        wire = Wire(connection=n + 1, peer=f"192.0.2.20:{40000 + n}")
        scripts.append(_script(wire, kind, certificate))
    mixed = []
    while any(scripts):
        mixed.append(order.choice([s for s in scripts if s]).pop(0))
    mixed = [dataclasses.replace(r, time=T0 + timedelta(seconds=i)) for i, r in enumerate(mixed)]
    judge, verdicts = run([serving(), *mixed])
    finals = {v.identity.name: v.outcome for v in verdicts}
    assert finals == {f"sbc{n}.lab.example": EXPECTED[k] for n, k in enumerate(kinds)
                      if k != "port"}
    assert judge.port_checks == kinds.count("port")


FACTS = ["established", "options-200", "options-403", "keepalive", "closed-sbc",
         "closed-fakepeer", "failed-expected", "failed-other", "idle"]


def _fact(wire: Wire, name: str, t: float):
    return {"established": lambda: wire.established(t),
            "options-200": lambda: wire.options(t),
            "options-403": lambda: wire.options(t, status=403, answer_reason="contact-ip"),
            "keepalive": lambda: wire.keepalives(t),
            "closed-sbc": lambda: wire.closed(t),
            "closed-fakepeer": lambda: wire.closed(t, by="fakepeer"),
            "failed-expected": lambda: wire.failed(t, alert="certificate_expired"),
            "failed-other": lambda: wire.failed(t, alert="unknown_ca"),
            "idle": lambda: wire.idle(t, 3.0)}[name]()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expect=st.sampled_from(["accept", "reject:certificate_expired", "mark-down:503"]),
       facts=st.lists(st.sampled_from(FACTS), max_size=8),
       until=st.none() | st.floats(0, 100))
def test_no_pass_without_the_fact_that_earns_it(expect, facts, until):
    """In any order of any facts, a PASS needs its evidence: a 200 to OPTIONS after a
    completed handshake (accept), the expected refusal (reject); a CHECK needs an
    answered OPTIONS. Nothing crashes."""
    wire = Wire(served=served(expect))
    records = [serving(expect), wire.accepted()]
    records += [_fact(wire, name, 0.1 * (i + 1)) for i, name in enumerate(facts)]
    verdicts = judge_all(records, window=WINDOW,
                         until=wire.at(until) if until is not None else None)
    outcomes = {v.outcome for v in verdicts}
    if "PASS" in outcomes:
        if expect == "accept":
            assert "established" in facts and "options-200" in facts
        else:
            assert "failed-expected" in facts
    if "CHECK" in outcomes:
        assert expect.startswith("mark-down") and "established" in facts
    if "established" not in facts and not {"failed-expected", "failed-other"} & set(facts):
        assert verdicts == []


@pytest.mark.parametrize(("expect", "answer", "outcome"), [
    ("mark-down:503", {"status": 503, "answer_reason": "options-override"}, "CHECK"),
    ("accept", {"status": 403, "answer_reason": "contact-ip"}, "FAIL"),
])
def test_no_dial_back_is_awaited_without_a_200(expect, answer, outcome):
    """fakepeer dials back only after a 200 OK: without one the verdict is not held."""
    wire = Wire(served=served(expect, dialback=True))
    _, verdicts = run([serving(expect, dialback=True), wire.accepted(), wire.established(),
                       wire.options(1.0, **answer)])
    assert [(v.outcome, v.outbound) for v in verdicts] == [(outcome, None)]


def test_a_healthcheck_does_not_claim_its_address():
    """A failed handshake from the host the healthcheck runs on is not the healthcheck's."""
    health = dataclasses.replace(SBC_CERTIFICATE, subject=f"CN={HEALTHCHECK_FQDN}",
                                 sans=(HEALTHCHECK_FQDN,))
    check, sbc = Wire(connection=1, peer="127.0.0.1:40001"), Wire(connection=2,
                                                                   peer="127.0.0.1:40002")
    _, verdicts = run([serving(), check.accepted(), check.established(certificate=health),
                       check.options(contact=HEALTHCHECK_FQDN), sbc.accepted(),
                       sbc.failed(alert="unknown_ca")])
    assert [(v.session, v.identity.healthcheck) for v in verdicts] == [(1, True), (2, False)]
    assert verdicts[1].identity.name == "127.0.0.1"


def test_a_session_is_named_by_one_dns_name():
    """A certificate with several names names its session by its first DNS name."""
    many = dataclasses.replace(SBC_CERTIFICATE, sans=("192.0.2.20", "sbc-a.lab.example",
                                                      "sbc-b.lab.example"))
    wire = Wire()
    _, verdicts = run([serving(), wire.accepted(), wire.established(certificate=many),
                       wire.options()])
    assert verdicts[0].identity.name == "sbc-a.lab.example"


def test_memory_stays_flat_over_reconnects_with_dial_backs():
    """An SBC that reconnects all day, each connection dialled back: the consumer keeps
    its sessions and a bounded memory of past dials, nothing per connection."""
    def lifecycle(n: int):
        start = T0 + timedelta(seconds=10 * n)
        inbound = Wire(connection=2 * n + 1, peer=f"192.0.2.20:{40000 + n % 20000}",
                       served=served(dialback=True), start=start)
        outbound = Dial(connection=2 * n + 2, served=served(), start=start)
        return [inbound.accepted(), inbound.established(), inbound.options(0.5),
                link(inbound, 0.5, outbound=2 * n + 2), outbound.started(0.5),
                outbound.established(0.6), outbound.check(0.7), outbound.sent(0.8),
                outbound.answered(0.9), outbound.closed(1.0), inbound.closed(2.0)]

    judge, verdicts = run([serving(dialback=True)])
    warm = [r for n in range(300) for r in lifecycle(n)]  # past the remembered dials
    measured = [r for n in range(300, 800) for r in lifecycle(n)]
    grown, blocks = growth_in_blocks(lambda: [judge(r) for r in warm],
                                     lambda: [judge(r) for r in measured])
    # anything kept per connection is >= 500 allocations; the remembered-dials dict's
    # table swaps (up to ~64 KiB seen, depending on where in its cycle the snapshot falls)
    # change bytes only, so the byte bound is loose and the count is the sharp check
    assert blocks < 100, f"the consumer kept {blocks} allocations over 500 connections"
    assert grown < 256 * 1024, f"the consumer grew by {grown} bytes over 500 connections"
    assert [v.outcome for v in verdicts] == ["PASS"]
    assert judge.judged == 1600
