"""Real rehearsals on 127.0.0.1: two steps on one port, driven by openssl s_client with
the lab SBC certificate, judged PASS then PASS, and the negative twin judged FAIL."""

from __future__ import annotations

import signal
from html.parser import HTMLParser

import pytest

from fakepeer.cli.status import ExitStatus
from tests.rehearse.harness import start_rehearsal
from tests.serve.harness import s_client_blocking as s_client
from tests.serve.harness import s_client_exchange_blocking as s_client_exchange
from tests.serve.test_tls_refusals import OPTIONS

pytestmark = pytest.mark.loopback

TWO_STEPS = """
title = "Loopback rehearsal"
[[steps]]
scenario = "baseline-microsoft-2026"
until_connections = 1
note = "today's chain"
[[steps]]
scenario = "expired-leaf"
until_connections = 1
"""
#: Sent as SNI by the first client: a correct report shows it as text, never as markup.
EVIL_SNI = "x<img src=q onerror=alert(1)>.example"


def _client(sbc_files, anchors) -> list[str]:
    return ["-cert", str(sbc_files.cert), "-key", str(sbc_files.key), "-cert_chain",
            str(sbc_files.chain), "-CAfile", str(anchors["microsoft-2026"])]


def _rehearse(session_store, folder, sbc_files, anchors, *, accept_expired: bool):
    """Step 1: an SBC that trusts the chain and sends OPTIONS; step 2: one that refuses
    the expired leaf, or (``accept_expired``) one that ignores it and sends OPTIONS."""
    run = start_rehearsal(session_store, folder, TWO_STEPS)
    try:
        port = run.listening(1)
        first = s_client_exchange(port, *_client(sbc_files, anchors), "-servername",
                                  EVIL_SNI, request=OPTIONS)
        assert "SIP/2.0 200 OK" in first.output, first.output
        assert run.listening(2) == port
        if accept_expired:
            second = s_client_exchange(port, *_client(sbc_files, anchors), request=OPTIONS)
            assert "SIP/2.0 200 OK" in second.output, second.output
        else:
            second = s_client(port, *_client(sbc_files, anchors), "-verify_return_error")
            assert "verify error:num=10:certificate has expired" in second.output
        run.finish()
    finally:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
    return run


@pytest.fixture(scope="module")
def passing(session_store, sbc_files, anchors, tmp_path_factory):
    """A rehearsal in which the SBC behaves: PASS, then PASS."""
    return _rehearse(session_store, tmp_path_factory.mktemp("passing"), sbc_files, anchors,
                     accept_expired=False)


@pytest.fixture(scope="module")
def failing(session_store, sbc_files, anchors, tmp_path_factory):
    """The negative twin: the SBC accepts the expired leaf in step 2."""
    return _rehearse(session_store, tmp_path_factory.mktemp("failing"), sbc_files, anchors,
                     accept_expired=True)


def test_a_correct_sbc_passes_both_steps_and_exits_0(passing):
    """PASS (accepted today's chain) then PASS (rejected the expired leaf): exit status 0."""
    assert passing.process.returncode == ExitStatus.SUCCESS, passing.output()
    report = passing.report()
    assert report["result"] == "PASS" and report["problems"] == []
    assert report["counts"] == {"PASS": 2, "CHECK": 0, "FAIL": 0, "INCOMPLETE": 0}
    first, second = report["steps"]
    assert [c["outcome"] for c in first["connections"]] == ["PASS"]
    assert [c["outcome"] for c in second["connections"]] == ["PASS"]
    assert "certificate_expired" in second["connections"][0]["reason"]


def test_an_sbc_accepting_the_expired_leaf_fails_and_exits_3(failing):
    """The twin: step 2's connection is FAIL, the result is FAIL, the exit status 3."""
    assert failing.process.returncode == ExitStatus.PEER_FAILED, failing.output()
    report = failing.report()
    assert report["result"] == "FAIL"
    assert report["counts"]["FAIL"] == 1 and report["counts"]["PASS"] == 1
    (bad,) = report["steps"][1]["connections"]
    assert bad["outcome"] == "FAIL"
    assert "accepted what it should refuse" in bad["reason"]
    assert "OPTIONS sip:sip.pstnhub.microsoft.com:5061;transport=tls" in bad["requests"]
    assert "Result: FAIL (1 PASS, 0 CHECK, 0 FAIL" not in failing.stdout()
    assert "Result: FAIL (1 PASS, 0 CHECK, 1 FAIL, 0 INCOMPLETE)" in failing.stdout()


def test_the_json_report_records_steps_phases_and_connections(passing):
    """The JSON report has each step's rule, times, address, phases and connection rows."""
    report = passing.report()
    assert report["title"] == "Loopback rehearsal"
    assert report["plan"].endswith("plan.toml")
    assert report["connections"] == 2 and not report["interrupted"]
    assert report["started"] <= report["steps"][0]["started"] <= report["steps"][1]["started"]
    assert report["steps"][1]["ended"] <= report["ended"]
    first, second = report["steps"]
    assert first["scenario"] == "baseline-microsoft-2026" and first["note"] == "today's chain"
    assert first["rule"] == "until 1 judged connection" and first["ended_by"] == "connections"
    assert first["expect"] == "accept" and second["expect"] == "SBC rejects (certificate_expired)"
    assert first["listening"] == second["listening"]
    assert [p["name"] for p in first["phases"]] == ["always"]
    assert first["phases"][0]["entered"] == first["started"]
    connection = first["connections"][0]
    assert connection["sni"] == EVIL_SNI
    assert "CN=sbc.lab.example" in connection["client_subject"]
    assert connection["verdict"] == "TLS Active; OPTIONS Active"
    assert connection["peer"].startswith("127.0.0.1:")
    assert connection["started"] <= connection["ended"]
    assert second["connections"][0]["verdict"].startswith("TLS Failed")


def test_the_event_log_tags_every_event_with_its_step(passing):
    """--events writes one JSON line per event, with the step it happened in."""
    events = passing.events()
    verdicts = [(e["step"], e["connection"]) for e in events if e["kind"] == "verdict"]
    assert verdicts == [(1, 1), (2, 1)]
    assert [e["step"] for e in events if e["kind"] == "listening"] == [1, 2]


def test_the_terminal_shows_banners_events_and_the_table(passing):
    """stdout follows the run step by step and ends with the table and the result."""
    out = passing.stdout()
    assert "== step 1/2: baseline-microsoft-2026, until 1 judged connection - today's chain" in out
    assert "== step 2/2: expired-leaf" in out
    assert "[1] " in out and "[2] " in out
    assert "STEP  CONN" in out
    assert out.rstrip().endswith("Result: PASS (2 PASS, 0 CHECK, 0 FAIL, 0 INCOMPLETE)")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_the_sni_sent_over_the_wire_is_text_in_the_html(passing):
    """The SBC's crafted SNI shows up as text in the page, never as an element."""
    parser = _Tags()
    parser.feed(passing.html_path.read_text(encoding="utf-8"))
    assert "img" not in {tag for tag, _ in parser.tags}
    assert not any(name.startswith("on") for _, attrs in parser.tags for name in attrs)
    assert EVIL_SNI in "".join(parser.text)


def test_no_connection_at_all_is_a_clear_error(session_store, tmp_path):
    """Steps that nobody dials end with exit 1 and a message saying nothing connected;
    the reports are written all the same."""
    run = start_rehearsal(session_store, tmp_path, """
[[steps]]
scenario = "baseline-microsoft-2026"
duration = 0.3
[[steps]]
scenario = "expired-leaf"
duration = 0.3
""")
    assert run.finish() == ExitStatus.ERROR
    assert "fakepeer: no SBC connected during the rehearsal on 127.0.0.1:" in run.stderr()
    assert "Traceback" not in run.stderr()
    report = run.report()
    assert report["result"] == "NO CONNECTIONS"
    assert [s["ended_by"] for s in report["steps"]] == ["duration", "duration"]
    assert run.html_path.is_file()


def test_sigint_mid_rehearsal_still_writes_the_report(session_store, tmp_path):
    """Ctrl-C during a step ends the run with exit 130 and a report marked interrupted."""
    run = start_rehearsal(session_store, tmp_path, TWO_STEPS)
    run.listening(1)
    run.process.send_signal(signal.SIGINT)
    assert run.finish() == ExitStatus.ERROR_CTRL_C, run.output()
    report = run.report()
    assert report["interrupted"] and report["result"] == "NO CONNECTIONS"
    assert [s["ended_by"] for s in report["steps"]] == ["interrupted", "not run"]
    assert "Traceback" not in run.stderr()
