"""Real openssl s_client peers against a real ``fakepeer serve`` on loopback:
what each side refuses, and that the event log explains it."""

from __future__ import annotations

import pytest
import pytest_twisted

from tests.serve.harness import s_client, s_client_exchange, served

OPTIONS = (
    b"OPTIONS sip:sip.pstnhub.microsoft.com:5061;transport=tls SIP/2.0\r\n"
    b"Via: SIP/2.0/TLS sbc.lab.example:5061;branch=z9hG4bKtest1\r\n"
    b"From: <sip:sbc.lab.example:5061;transport=tls>;tag=t1\r\n"
    b"To: <sip:sip.pstnhub.microsoft.com>\r\n"
    b"Call-ID: call-1@sbc.lab.example\r\nCSeq: 1 OPTIONS\r\n"
    b"Contact: <sip:sbc.lab.example:5061;transport=tls>\r\n"
    b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
)


@pytest.fixture(scope="module")
def microsoft(session_store):
    """The default scenario: today's Microsoft chain, mutual TLS required."""
    with served(session_store) as server:
        yield server


def _client_cert(sbc_files) -> tuple[str, ...]:
    return ("-cert", str(sbc_files.cert), "-key", str(sbc_files.key),
            "-cert_chain", str(sbc_files.chain))


@pytest_twisted.ensureDeferred
async def test_sbc_with_right_root_and_certificate_gets_200(microsoft, sbc_files, anchors):
    """A correct SBC completes mutual TLS and gets the Microsoft-shaped 200 OK."""
    mark = microsoft.mark()
    result = await s_client_exchange(microsoft.port, *_client_cert(sbc_files), "-CAfile",
                                     str(anchors["microsoft-2026"]), "-servername",
                                     "sip.pstnhub.microsoft.com", "-verify_return_error",
                                     request=OPTIONS)
    assert "SIP/2.0 200 OK" in result.output, result.output
    assert "SERVER: Microsoft.PSTNHub.SIPProxy" in result.output
    verdict = await microsoft.next_event("verdict", mark)
    assert verdict["tls"] == "Active"
    assert verdict["options"] == "Active"


@pytest.mark.parametrize(("options", "alert"), [
    (("-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"), "protocol_version"),
    (("-tls1_2", "-cipher", "AES128-SHA"), "handshake_failure"),
], ids=["tls-1.0", "non-microsoft-cipher"])
@pytest_twisted.ensureDeferred
async def test_old_protocol_and_foreign_cipher_are_refused(microsoft, sbc_files, options, alert):
    """The Microsoft profile speaks TLS 1.2 with four suites only: a TLS 1.0 client gets
    protocol_version, one offering only AES128-SHA gets handshake_failure."""
    mark = microsoft.mark()
    result = await s_client(microsoft.port, *options, *_client_cert(sbc_files))
    assert result.returncode != 0
    failed = await microsoft.next_event("tls-failed", mark)
    assert failed["failed_by"] == "fakepeer"
    assert failed["alert"] == alert


@pytest_twisted.ensureDeferred
async def test_missing_client_certificate_gets_certificate_unknown(microsoft):
    """Without a client certificate the handshake fails with certificate_unknown."""
    mark = microsoft.mark()
    result = await s_client(microsoft.port, "-servername", "sip.pstnhub.microsoft.com")
    assert "certificate unknown" in result.output
    failed = await microsoft.next_event("tls-failed", mark)
    assert failed["alert"] == "certificate_unknown"
    verdict = await microsoft.next_event("verdict", mark)
    assert verdict["tls"] == "Failed"


@pytest_twisted.ensureDeferred
async def test_sbc_trusting_only_the_2020_root_sends_unknown_ca(microsoft, sbc_files, anchors):
    """An SBC whose trust store lacks the 2026 root rejects fakepeer: unknown_ca logged."""
    mark = microsoft.mark()
    result = await s_client(microsoft.port, *_client_cert(sbc_files), "-CAfile",
                            str(anchors["microsoft-2020"]), "-verify_return_error")
    assert result.verify_code == 20 or "verify error:num=20" in result.output
    failed = await microsoft.next_event("tls-failed", mark)
    assert failed["failed_by"] == "sbc"
    assert failed["alert"] == "unknown_ca"
    assert "unknown_ca" in (await microsoft.next_event("verdict", mark))["cause"]
