"""The SIP edge over real TLS on 127.0.0.1: hostile peers against fakepeer's listener and
against its dialer (issue 12 items 3, 5 and 6), each bounded by counts and deadlines."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
import pytest_twisted
from cryptography import x509
from twisted.internet import reactor, task, threads

from fakepeer import sip
from fakepeer.net.dialer import CLOSE_GRACE, DialTarget, dial
from fakepeer.probe.caller import Caller
from fakepeer.profiles import GENESYS_FROM_HOST
from fakepeer.tls import GENESYS
from tests.net.conftest import SERVER_NAME, Flood, Lab, connect, responses, until

pytestmark = pytest.mark.loopback

OPTIONS = (
    b"OPTIONS sip:sip.pstnhub.microsoft.com:5061;transport=tls SIP/2.0\r\n"
    b"Via: SIP/2.0/TLS sbc.lab.example:5061;branch=z9hG4bKlive1\r\n"
    b"From: <sip:sbc.lab.example:5061;transport=tls>;tag=l1\r\n"
    b"To: <sip:sip.pstnhub.microsoft.com>\r\nCall-ID: live-1\r\nCSeq: 1 OPTIONS\r\n"
    b"Contact: <sip:sbc.lab.example:5061;transport=tls>\r\nContent-Length: 0\r\n\r\n"
)


def tiny_malformed(number: int) -> bytes:
    """At most 32 bytes, so a 16 KB TLS record holds 512: a start line that is no
    request line, but Via, Call-ID and CSeq to address its 400 by."""
    return f"x\r\nv:x\r\ni:{number}\r\nCSeq:1 x\r\nl:0\r\n\r\n".encode()


@pytest_twisted.ensureDeferred
async def test_pipelined_garbage_in_full_tls_records_gets_every_400_in_order(lab, serve):
    """546 malformed requests in one write arrive as 16 KB TLS records of 512 each; every
    one gets its 400, in order, on the same connection (issue 12 item 3: the old error
    path recursed twice per error and hit the limit of 1,000 after ~495)."""
    served = await serve()
    client = await connect(lab, served.port)
    client.transport.write(b"".join(tiny_malformed(n) for n in range(546)) + OPTIONS)
    await until(lambda: len(responses(bytes(client.received))) == 547, 20,
                "547 answers")
    got = responses(bytes(client.received))
    assert [r.status for r in got] == [400] * 546 + [200]
    assert [r.headers.get("Call-ID") for r in got[:546]] == [str(n) for n in range(546)]
    client.transport.loseConnection()
    await client.lost


@pytest_twisted.ensureDeferred
async def test_a_one_byte_per_interval_client_is_closed_at_the_head_deadline(lab, serve):
    """A client sending one byte every 50 ms keeps resetting the 5 s idle timer but is
    closed when its head is 0.3 s late, with one limit event (issue 12 item 5)."""
    served = await serve(deadlines=sip.Deadlines(head=0.3, body=0.3), idle_timeout=5.0)
    client = await connect(lab, served.port)
    await until(lambda: bool(served.of("tls-established")), 5, "TLS established")
    began = reactor.seconds()
    for index in range(120):  # 6 s at most; the idle timeout alone would allow it all
        if client.lost_at is not None:
            break
        client.transport.write(OPTIONS[index:index + 1])
        await task.deferLater(reactor, 0.05, lambda: None)
    await until(lambda: client.lost_at is not None, 5, "the server closing")
    assert client.lost_at is not None
    assert 0.3 <= client.lost_at - began < 1.5
    await until(lambda: bool(served.of("closed")), 5, "the closed event")
    assert [e.data["limit"] for e in served.of("limit")] == ["head_deadline"]
    assert not served.of("sip-request")


@pytest_twisted.ensureDeferred
async def test_an_sbc_pinging_slowly_with_whole_messages_is_not_closed(lab, serve):
    """The negative twin: whole OPTIONS every 0.15 s for 0.9 s (three head deadlines) are
    all answered 200 and the connection stays open."""
    served = await serve(deadlines=sip.Deadlines(head=0.3, body=0.3), idle_timeout=5.0)
    client = await connect(lab, served.port)
    for _ in range(6):
        client.transport.write(OPTIONS)
        await task.deferLater(reactor, 0.15, lambda: None)
    await until(lambda: len(responses(bytes(client.received))) == 6, 5, "6 answers")
    assert [r.status for r in responses(bytes(client.received))] == [200] * 6
    assert client.lost_at is None
    assert not served.of("limit")
    client.transport.loseConnection()
    await client.lost


def flood_with_a_huge_header(lab: Lab, port: int, seconds: float) -> Flood:
    """A hostile SBC (thread, stdlib ssl): an OPTIONS whose header never ends, 16 KB every
    5 ms, never reading, so it never answers close_notify; stops when the server drops
    the connection or after ``seconds``."""
    flood = Flood()
    head = OPTIONS.split(b"Content-Length")[0] + b"X-Huge: "
    chunk = b"a" * 16384
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            lab.client_context().wrap_socket(raw, server_hostname=SERVER_NAME) as tls:
        try:
            tls.sendall(head)
            flood.sent = len(head)
            while time.monotonic() - began < seconds:
                tls.sendall(chunk)
                flood.sent += len(chunk)
                time.sleep(0.005)
            flood.stopped_by = "time"
        except OSError as exc:
            flood.stopped_by = type(exc).__name__
    flood.seconds = time.monotonic() - began
    return flood


@pytest_twisted.ensureDeferred
async def test_a_peer_flooding_after_a_fatal_error_is_closed_within_the_grace(lab, serve):
    """A never-ending header line is refused (513), logged once, and the connection is
    aborted close_grace after close_notify although the peer keeps sending; the idle
    timeout (5 s) plays no part (issue 12 item 6)."""
    served = await serve(close_grace=0.5, idle_timeout=5.0)
    flood = await threads.deferToThread(flood_with_a_huge_header, lab, served.port, 12.0)
    assert flood.stopped_by != "time", flood
    await until(lambda: bool(served.of("closed")), 5, "the closed event")
    [error] = served.of("sip-error")
    assert error.data["status"] == 513
    [closed] = served.of("closed")
    lingered = (closed.time - error.time).total_seconds()
    assert lingered < 0.5 + 1.5, f"open {lingered:.2f} s after the error"
    assert "did not finish closing within 0.5 s" in closed.summary


def hostile_sbc(lab: Lab, listener: socket.socket, seconds: float, ready: threading.Event,
                flood: Flood) -> None:
    """An SBC (thread, stdlib ssl) answering OPTIONS with a header that never ends, 16 KB
    every 5 ms, never reading again; stops when fakepeer drops it or after ``seconds``."""
    listener.settimeout(10)
    ready.set()
    connection, _ = listener.accept()
    began = time.monotonic()
    with connection, lab.server_context().wrap_socket(connection, server_side=True) as tls:
        try:
            request = b""
            while b"\r\n\r\n" not in request and time.monotonic() - began < seconds:
                request += tls.recv(4096)
            tls.sendall(b"SIP/2.0 200 OK\r\nVia: x\r\nX-Huge: ")
            while time.monotonic() - began < seconds:
                tls.sendall(b"a" * 16384)
                flood.sent += 16384
                time.sleep(0.005)
            flood.stopped_by = "time"
        except OSError as exc:
            flood.stopped_by = type(exc).__name__
    flood.seconds = time.monotonic() - began


@pytest_twisted.ensureDeferred
async def test_probe_logs_a_hostile_answer_once_and_gives_up_within_the_grace(lab):
    """fakepeer's dialer, answered with a header that never ends, records one sip-error
    and is done CLOSE_GRACE after its close_notify while the SBC keeps sending (issue 12
    item 6: probe logged 6,241 lines for a 100 MB answer header)."""
    root = x509.load_pem_x509_certificate(lab.ca.cert_pem.bytes())
    caller = Caller(profile="genesys", era="genesys", policy=GENESYS, client_chain=None,
                    sip_profile=sip.GENESYS, trust=(root,), sbc_eku="serverAuth",
                    from_host=GENESYS_FROM_HOST)
    listener = socket.create_server(("127.0.0.1", 0))
    ready, flood = threading.Event(), Flood()
    sbc = threading.Thread(target=hostile_sbc, args=(lab, listener, 12.0, ready, flood))
    sbc.start()
    try:
        ready.wait(5)
        events: list = []
        began = reactor.seconds()
        result = await dial(reactor, caller,
                            DialTarget("127.0.0.1", listener.getsockname()[1], SERVER_NAME),
                            sink=events.append, connection_id=1, timeout=5.0,
                            options_anyway=True)
        took = reactor.seconds() - began
    finally:
        await threads.deferToThread(sbc.join, 15)
        listener.close()
    assert flood.stopped_by != "time", flood
    assert [e.kind for e in events].count("sip-error") == 1
    assert result.sip_problem is not None
    assert result.sip_problem.startswith("malformed SIP from the SBC")
    assert took < CLOSE_GRACE + 3.0, f"dial took {took:.2f} s"


def pinging_sbc(lab: Lab, listener: socket.socket, pings: int, ready: threading.Event,
                flood: Flood) -> None:
    """An SBC (thread, stdlib ssl) that answers fakepeer's OPTIONS only after ``pings``
    CRLF keep-alive pings."""
    listener.settimeout(10)
    ready.set()
    connection, _ = listener.accept()
    with connection, lab.server_context().wrap_socket(connection, server_side=True) as tls:
        tls.settimeout(10)
        request = b""
        while b"\r\n\r\n" not in request:
            request += tls.recv(4096)
        head = request.split(b"\r\n\r\n")[0].decode()
        kept = [line for line in head.split("\r\n")[1:]
                if line.split(":")[0].lower() in ("via", "from", "to", "call-id", "cseq")]
        tls.sendall(b"\r\n\r\n" * pings)
        flood.sent = 4 * pings
        tls.sendall(("SIP/2.0 200 OK\r\n" + "\r\n".join(kept)
                     + "\r\nContent-Length: 0\r\n\r\n").encode())
        with contextlib.suppress(OSError):
            while tls.recv(65536):
                pass


@pytest_twisted.ensureDeferred
async def test_probe_counts_an_sbcs_keepalive_flood_in_one_line(lab):
    """fakepeer's dialer, pinged 131,072 times before the answer, reports the pings as
    one count (issue 12 item 4: probe against a pinging SBC printed 380,928 lines)."""
    root = x509.load_pem_x509_certificate(lab.ca.cert_pem.bytes())
    caller = Caller(profile="genesys", era="genesys", policy=GENESYS, client_chain=None,
                    sip_profile=sip.GENESYS, trust=(root,), sbc_eku="serverAuth",
                    from_host=GENESYS_FROM_HOST)
    listener = socket.create_server(("127.0.0.1", 0))
    ready, flood, pings = threading.Event(), Flood(), 131_072
    sbc = threading.Thread(target=pinging_sbc, args=(lab, listener, pings, ready, flood))
    sbc.start()
    try:
        ready.wait(5)
        events: list = []
        result = await dial(reactor, caller,
                            DialTarget("127.0.0.1", listener.getsockname()[1], SERVER_NAME),
                            sink=events.append, connection_id=1, timeout=10.0,
                            options_anyway=True)
    finally:
        await threads.deferToThread(sbc.join, 15)
        listener.close()
    assert result.response is not None and result.response.status == 200
    counted = [e.data["count"] for e in events if e.kind == "sip-keepalive"]
    assert counted == [pings], [e.summary for e in events]
    assert len(events) < 15, [e.kind for e in events]
