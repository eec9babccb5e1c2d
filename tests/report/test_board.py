"""The status board with the session consumer: the open SBC sessions, their identity
and verdicts, and outcome counts in which a failed dial-back is a FAIL."""

from __future__ import annotations

import json

from fakepeer.report.board import StatusBoard
from fakepeer.report.events import Fanout
from fakepeer.report.sessions import SessionJudge
from tests.report.wire import SBC_NAME, Dial, Wire, link, served, serving


def test_status_shows_the_open_session_and_counts_a_failed_dial_back_as_fail():
    """An SBC whose OPTIONS got 200 but which refused the dial-back: one open session,
    its identity, its verdict FAIL with the alert, counted as FAIL (not "n/a")."""
    board = StatusBoard()
    judge = SessionJudge(lambda verdict: board(verdict), window=30.0)
    board.judge = judge
    sink = Fanout(judge, board)
    inbound = Wire(served=served(dialback=True))
    outbound = Dial(served=served())
    for record in (serving(dialback=True), inbound.accepted(), inbound.established(),
                   inbound.options(1.0), link(inbound, 1.0), outbound.started(1.0),
                   outbound.failed(1.1, alert="unsupported_certificate"),
                   outbound.closed(1.2)):
        sink(record)
    snap = json.loads(json.dumps(board.snapshot()))
    assert snap["outcomes"] == {"FAIL": 1}
    (session,) = snap["sessions"]
    assert session["identity"]["name"] == SBC_NAME
    assert session["identity"]["certificate_subject"] == f"CN={SBC_NAME}"
    assert session["identity"]["user_agent"].startswith("Kamailio")
    assert session["outcome"] == "FAIL"
    assert "unsupported_certificate" in session["cause"]
    assert session["dialback"].startswith("Error")
    (connection,) = session["open"]
    assert (connection["connection"], connection["last_answer"]) == (1, "200 OK")
    assert snap["connections"] == {"open": 1, "total": 1}
    assert snap["verdicts"][0]["kind"] == "verdict"


def test_pending_connections_and_port_checks_are_shown():
    """A connection before its handshake is pending; a port check is only counted."""
    judge = SessionJudge(lambda verdict: None)
    board = StatusBoard(judge)
    waiting, probe = Wire(connection=1), Wire(connection=2)
    for record in (waiting.accepted(), probe.accepted(), probe.closed(0.1)):
        judge(record)
        board(record)
    snap = board.snapshot()
    assert [c["connection"] for c in snap["pending"]] == [1]
    assert snap["port_checks"] == 1 and snap["sessions"] == []
