"""Property tests of the sans-IO layer: the parser and the connection's state machine.

Invariants, over valid messages, keep-alives, framed malformed messages, fatal ones,
random garbage, splits at every point and EOF: nothing is raised but
``RemoteSipError``; feeding whole and feeding split give the same events and errors;
``buffered_bytes`` never exceeds ``max_buffered`` when ``NEED_DATA`` is returned; the
ERROR state is sticky; a recoverable error leaves the stream framed (the next valid
message comes out whole); the one-pass reading of a regular head finds exactly what the
exact line-by-line reading finds.

How many examples: the Hypothesis profile named by ``FAKEPEER_HYPOTHESIS_PROFILE``.
``ci`` (the default) runs 10,000 examples over this module and ``test_fuzz.py``
together; ``deep`` runs ten times as many (100,000), for a soak before a release::

    FAKEPEER_HYPOTHESIS_PROFILE=deep python3 -m pytest tests/sip -p no:cacheprovider
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fakepeer.sip import (
    NEED_DATA,
    ConnectionClosed,
    ConnectionState,
    Headers,
    KeepAlive,
    Limits,
    ReadPhase,
    RemoteSipError,
    Request,
    SipConnection,
)
from fakepeer.sip.parser import _parse_lines, _read_regular
from tests.sip import test_fuzz
from tests.sip.helpers import PROFILE, UNITS_TOTAL, options, weighted

#: Units of examples per test here (see tests.sip.helpers.weighted).
UNITS = {"split": 55, "one_pass": 39, "state_machine": 1}

#: Small limits, so random input reaches each of them; max_buffered is not below
#: max_message_size, so that how the bytes are split cannot change the outcome.
LIMITS = Limits(max_message_size=600, max_header_count=12, max_line_length=120,
                max_buffered=600)

VALID = [
    options("Contact: <sip:sbc.example.com>"),
    options("Subject: folded\r\n  over\r\n\tthree lines", body=b"hi"),
    options('From: "Zoë" <sip:z@example.com>'),
    b"SIP/2.0 200 OK\r\nv: SIP/2.0/TLS a.example.com\r\ni: x\r\nl: 3\r\n\r\nabc",
    b"MESSAGE sip:a.example.com SIP/2.0\r\nContent-Length: 4\r\n\r\n\r\n\r\n",
]
MALFORMED = [  # framed: each costs one recoverable error and nothing else
    options("Broken line"),
    options("Bad Name: x"),
    options("Subject: a\x00b"),
    options("Subject: a\nb"),
    options().replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1),
    b"x\r\nv:x\r\ni:1\r\nCSeq:1 x\r\nl:0\r\n\r\n",
    b"OPTIONS sip:a.example.com SIP/2.0\r\n orphan\r\nl: 2\r\n\r\nab",
    b"OPTIONS sip:a.example.com SIP/2.0\r\nSubject: \xff\r\nl: 0\r\n\r\n",
]
FATAL = [  # each puts the connection in ERROR
    b"OPTIONS sip:a.example.com SIP/2.0\r\nVia: x\r\n\r\n",
    options().replace(b"Content-Length: 0", b"Content-Length: 9999"),
    options("X-Pad: " + "a" * 200),
    options(*[f"X-{n}: {n}" for n in range(12)]),
]
FRAGMENTS = [b"\r\n", b"\r\n\r\n", b"\r", b"\n", b" ", b":", b"l: 0", b"SIP/2.0", b"\xff",
             b"OPTIONS sip:a.example.com SIP/2.0", b"Content-Length: 3"]
CORPUS = [*VALID, *MALFORMED, *FATAL, *FRAGMENTS, b"\r\n\r\n"]


def program(code: bytes) -> tuple[bytes, list[int]]:
    """A stream and where to cut it, read from ``code`` one instruction byte at a time.

    0-127 appends a corpus entry, 128-191 cuts the stream where it stands, 192-255
    appends the next code byte as it is (garbage). Hypothesis draws one ``binary``,
    which is cheap, and shrinks it towards zeros: towards a stream of valid messages.
    """
    stream = bytearray()
    cuts: list[int] = []
    position = 0
    while position < len(code):
        op = code[position]
        if op < 128:
            stream += CORPUS[op % len(CORPUS)]
        elif op < 192:
            cuts.append(len(stream))
        elif position + 1 < len(code):
            position += 1
            stream.append(code[position])
        position += 1
    return bytes(stream), cuts


@dataclass(frozen=True)
class Failed:
    """An error as an outcome: what the peer is told and whether reading went on."""

    status_hint: int
    recoverable: bool


def drain(conn: SipConnection, outcomes: list[object]) -> None:
    """Every outcome ready now; checks the invariants of each kind of return."""
    while True:
        state = conn.state
        try:
            event = conn.next_event()
        except RemoteSipError as exc:
            outcomes.append(Failed(exc.status_hint, exc.recoverable))
            if exc.recoverable:
                assert conn.state is state is ConnectionState.OPEN
                continue
            assert_sticky_error(conn)
            return
        if event is NEED_DATA:
            assert conn.buffered_bytes <= conn.limits.max_buffered
            return
        outcomes.append(event)
        if isinstance(event, ConnectionClosed):
            assert conn.state is ConnectionState.CLOSED
            assert conn.next_event() == ConnectionClosed()
            return


def assert_sticky_error(conn: SipConnection) -> None:
    """ERROR is for good: nothing buffered, data dropped, every next_event raises."""
    assert conn.state is ConnectionState.ERROR
    assert conn.buffered_bytes == 0
    conn.receive_data(b"OPTIONS sip:a.example.com SIP/2.0\r\nl: 0\r\n\r\n")
    assert conn.buffered_bytes == 0
    for _ in range(2):
        try:
            conn.next_event()
        except RemoteSipError as exc:
            assert not exc.recoverable
        else:
            raise AssertionError("next_event did not raise in the ERROR state")
    assert conn.state is ConnectionState.ERROR
    assert conn.phase is ReadPhase.BETWEEN_MESSAGES


def outcomes_of(chunks: list[bytes], eof: bool) -> list[object]:
    """Feed ``chunks`` (then EOF if asked), draining after each; every outcome."""
    conn = SipConnection(LIMITS)
    outcomes: list[object] = []
    for chunk in chunks:
        if conn.state is not ConnectionState.OPEN:
            break
        if chunk:
            conn.receive_data(chunk)
            drain(conn, outcomes)
    if eof and conn.state is ConnectionState.OPEN:
        conn.receive_data(b"")
        drain(conn, outcomes)
    return outcomes


def cut(data: bytes, points: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (taken modulo its length, sorted)."""
    offsets = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in pairwise(offsets)]


@weighted(UNITS["split"])
@given(code=st.binary(max_size=12))
def test_whole_and_split_feeding_agree(code):
    """Any stream gives the same events and errors fed whole and cut anywhere, with and
    without EOF after it."""
    stream, cuts = program(code)
    whole = outcomes_of([stream], True)
    assert outcomes_of(cut(stream, cuts), True) == whole
    without_eof = outcomes_of(cut(stream, cuts), False)  # the same, short of what EOF adds
    assert without_eof == whole[: len(without_eof)]
    assert len(whole) - len(without_eof) <= 1


@pytest.mark.parametrize("message", [*VALID, *MALFORMED, *FATAL, VALID[0] + b"\r\n\r\n"
                                     + MALFORMED[0]], ids=lambda m: repr(m[:24]))
def test_every_single_split_point_agrees(message):
    """Each corpus message (and a pipelined trio) cut in two at every offset gives what
    it gives whole."""
    whole = outcomes_of([message], True)
    for point in range(1, len(message)):
        assert outcomes_of([message[:point], message[point:]], True) == whole


#: What header lines are made of: names, the whitespace HCOLON allows, values, and the
#: parts that send a head down the exact path (a name that is no token, non-ASCII in a
#: name, a control, a bare CR or LF, invalid UTF-8), drawn less often.
_NAMES = [b"Via", b"l", b"i", b"X-a", b"CSeq"]
_BAD_NAMES = [b"Bad Name", b"V\xc3\xa9"]
_BLANKS = [b"", b" ", b"\t", b" \t "]
_VALUES = [b"x", b"<sip:a.example.com>;tag=1", b"1 OPTIONS", "Zoë".encode(), b"", b"a  b",
           b" x ", b"a, b"]
_BAD_VALUES = [b"a\x7fb", b"a\x01", b"a\rb", b"a\nb", b"\xff"]


def _pick(byte: int, good: list[bytes], bad: list[bytes]) -> bytes:
    """One of ``good``, or (for the top eighth of byte values) one of ``bad``."""
    return bad[byte % len(bad)] if byte >= 224 else good[byte % len(good)]


def head_lines(code: bytes) -> list[bytes]:
    """Header lines read from ``code``, three bytes a line: mostly ``name: value``, some
    continuation lines, a few without a colon; the other bytes pick the parts."""
    lines: list[bytes] = []
    for index in range(0, len(code) - 2, 3):
        kind, first, second = code[index : index + 3]
        name, value = _pick(first, _NAMES, _BAD_NAMES), _pick(second, _VALUES, _BAD_VALUES)
        if kind < 176:
            blank = _BLANKS[kind % len(_BLANKS)]
            lines.append(name + blank + b":" + blank + value)
        elif kind < 232:
            lines.append(_BLANKS[1 + first % 3] + value)  # a continuation line
        else:
            lines.append(name + value)  # no colon
    return lines


@weighted(UNITS["one_pass"])
@given(code=st.binary(max_size=30))
def test_one_pass_reading_finds_what_line_by_line_reading_finds(code):
    """Whenever the one-pass reader takes a head, the exact reader finds the same start
    line and fields, and no problem."""
    content = b"\r\n".join([b"OPTIONS sip:a.example.com SIP/2.0", *head_lines(code)])
    assume(b"\r\n\r\n" not in content + b"\r\n")  # an empty line would end the head
    regular = _read_regular(content)
    if regular is None:
        return
    problems: list[str] = []
    start, fields = _parse_lines(content.split(b"\r\n"), problems)
    assert problems == []
    assert (regular[0], regular[1]) == (start, fields)
    assert regular[2] == dict(Headers(fields).lookup_index())


class SipStream(RuleBasedStateMachine):
    """A connection fed valid messages, keep-alives, malformed and fatal messages,
    garbage and EOF in any order, each split at random points."""

    def __init__(self) -> None:
        super().__init__()
        self.conn = SipConnection(LIMITS)
        self.clean = True  # nothing pending: the next message must come out as sent
        self.eof = False

    def feed(self, data: bytes, points: list[int]) -> list[object]:
        outcomes: list[object] = []
        for chunk in cut(data, points):
            if chunk:
                self.conn.receive_data(chunk)
                if self.conn.state is ConnectionState.OPEN:
                    drain(self.conn, outcomes)
        return outcomes

    @property
    def framed(self) -> bool:
        return self.clean and self.conn.state is ConnectionState.OPEN

    @precondition(lambda self: not self.eof)
    @rule(message=st.sampled_from(VALID), points=st.lists(st.integers(min_value=0), max_size=4))
    def send_valid(self, message, points):
        framed = self.framed
        got = self.feed(message, points)
        if framed:
            assert got == outcomes_of([message], False)
            assert isinstance(got[0], Request) or got[0].status == 200
            assert self.conn.phase is ReadPhase.BETWEEN_MESSAGES

    @precondition(lambda self: not self.eof)
    @rule(message=st.sampled_from(MALFORMED), points=st.lists(st.integers(min_value=0), max_size=4))
    def send_malformed(self, message, points):
        framed = self.framed
        got = self.feed(message, points)
        if framed:  # the error path: one recoverable error, and the stream is still framed
            assert len(got) == 1 and isinstance(got[0], Failed) and got[0].recoverable
            assert self.conn.buffered_bytes == 0

    @precondition(lambda self: not self.eof)
    @rule(message=st.sampled_from(FATAL), points=st.lists(st.integers(min_value=0), max_size=4))
    def send_fatal(self, message, points):
        framed = self.framed
        got = self.feed(message, points)
        if framed:
            assert got[-1] == Failed(got[-1].status_hint, False)
            assert self.conn.state is ConnectionState.ERROR

    @precondition(lambda self: not self.eof)
    @rule()
    def send_keepalive(self):
        framed = self.framed
        got = self.feed(b"\r\n\r\n", [1, 3])
        if framed:
            assert got == [KeepAlive()]

    @precondition(lambda self: not self.eof)
    @rule(data=st.binary(max_size=60), points=st.lists(st.integers(min_value=0), max_size=4))
    def send_garbage(self, data, points):
        self.feed(data, points)
        self.clean = self.clean and not data

    @precondition(lambda self: not self.eof)
    @rule()
    def close(self):
        framed = self.framed
        self.eof = True
        self.conn.receive_data(b"")
        got: list[object] = []
        if self.conn.state is ConnectionState.OPEN:
            drain(self.conn, got)
        if framed:
            assert got == [ConnectionClosed()]
        assert self.conn.state is not ConnectionState.OPEN

    @rule()
    def poll(self):
        """next_event with nothing new: CLOSED and ERROR answer as they always do."""
        got: list[object] = []
        if self.conn.state is ConnectionState.OPEN:
            drain(self.conn, got)
            assert not any(isinstance(o, Request) for o in got)
        elif self.conn.state is ConnectionState.CLOSED:
            assert self.conn.next_event() == ConnectionClosed()

    @invariant()
    def bounded_and_sticky(self):
        assert self.conn.buffered_bytes <= LIMITS.max_message_size
        if self.conn.state is ConnectionState.ERROR:
            assert_sticky_error(self.conn)


SipStream.TestCase.settings = settings(
    PROFILE, max_examples=UNITS["state_machine"] * PROFILE.max_examples, stateful_step_count=10)
test_connection_state_machine = SipStream.TestCase


def test_profiles_reach_their_example_counts():
    """The weights here and in test_fuzz.py come to 10,000 examples under ``ci`` and
    100,000 under ``deep``."""
    assert sum(UNITS.values()) + sum(test_fuzz.UNITS.values()) == UNITS_TOTAL == 100
    assert UNITS_TOTAL * settings.get_profile("fakepeer-sip-ci").max_examples == 10_000
    assert UNITS_TOTAL * settings.get_profile("fakepeer-sip-deep").max_examples == 100_000


def test_the_corpus_means_what_it_says():
    """Valid messages give one event each, malformed ones one recoverable error, fatal
    ones an unrecoverable one, so the rules above check what they claim."""
    for message in VALID:
        [event] = outcomes_of([message], False)
        assert not isinstance(event, Failed)
    for message in MALFORMED:
        assert outcomes_of([message], False) == [Failed(outcomes_of([message], False)[0]
                                                       .status_hint, True)]
    for message in FATAL:
        [failed] = outcomes_of([message], False)
        assert isinstance(failed, Failed) and not failed.recoverable
