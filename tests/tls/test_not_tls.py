"""A peer that does not speak TLS on the TLS port is named for what it sent instead."""

import socket

import pytest
import pytest_twisted
from twisted.internet import threads

from fakepeer.tls import MICROSOFT, FailureReason, ServerConnectionCreator
from fakepeer.tls.observation import not_tls_description

pytestmark = pytest.mark.loopback


def _send(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        sock.settimeout(3)
        try:
            while sock.recv(4096):
                pass
        except (TimeoutError, ConnectionResetError):
            pass


@pytest.mark.parametrize(("sent", "named"), [
    (b"OPTIONS sip:sip.pstnhub.microsoft.com SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1\r\n\r\n",
     "the peer sent a plain SIP OPTIONS ('OPTIONS sip:sip.pstnhub.microsoft.com SIP/2.0') to "
     "the TLS port: set its transport to this peer to TLS (SIP over TLS, port 5061), not TCP"),
    (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 10.0.0.1\r\n\r\n",
     "the peer sent a plain SIP response ('SIP/2.0 200 OK') to the TLS port"),
    (b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n",
     "the peer sent an HTTP request ('GET /status HTTP/1.1') to the SIP-over-TLS port"),
    (bytes(range(256)) * 2, "the peer does not speak TLS: it began with 00 01 02 03"),
], ids=["sip-request", "sip-response", "http", "garbage"])
@pytest_twisted.ensureDeferred
async def test_what_came_instead_of_tls_is_named(tls_pki, listen, sent, named):
    """Before: every one of these was "the peer does not speak TLS (plain SIP or
    garbage?): ... http request" (OpenSSL's words for anything starting with GET/POST)."""
    server = listen(lambda sink: ServerConnectionCreator.from_chains(
        MICROSOFT, [tls_pki.proxy], client_trust=[tls_pki.sbc_root], on_observation=sink))
    await threads.deferToThread(_send, server.port, sent)
    await server.settled()
    [observation] = server.observations
    failure = observation.failure()
    assert failure is not None and failure.reason is FailureReason.NOT_TLS
    assert failure.detail.startswith(named), failure.detail
    assert failure.alert is None


def test_the_description_never_shows_more_than_a_line():
    text = not_tls_description(b"INVITE sips:" + b"a" * 500 + b"\r\nVia: x\r\n")
    assert text.startswith("the peer sent a plain SIP INVITE ('INVITE sips:aaaa")
    assert len(text) < 200
