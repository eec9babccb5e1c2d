"""``--tls-min`` alone lowers only the minimum and ``--tls-max`` alone moves only the
maximum: a TLS 1.2 SBC is still served after ``--tls-min TLSv1`` (it used to become
TLSv1..TLSv1 and refuse every TLS 1.2 SBC), and ``--tls-max TLSv1.1`` serves TLS 1.1
instead of failing on a minimum above it. Checked with real ``openssl s_client``
handshakes against a real ``fakepeer serve``."""

from __future__ import annotations

import pytest
import pytest_twisted

from tests.serve.harness import s_client, serving

pytestmark = pytest.mark.loopback

#: Mutual TLS is not the point here. fakepeer lowers its own OpenSSL security level for
#: TLS 1.0/1.1; s_client must too, and a CBC suite is needed (Teams' four are TLS 1.2's).
OPTIONS = ("--client-cert", "off")
LEVEL_0 = ("-cipher", "DEFAULT@SECLEVEL=0")


def _protocol(output: str) -> str | None:
    """The version s_client negotiated, ``None`` when the handshake failed."""
    if "Cipher is (NONE)" in output:
        return None
    for line in output.splitlines():
        if line.strip().startswith("Protocol") and ":" in line:
            return line.split(":", 1)[1].strip()
    return None


@pytest_twisted.ensureDeferred
async def test_a_lower_minimum_keeps_tls_1_2(session_store):
    """With --tls-min TLSv1 a TLS 1.2-only client still completes the handshake, and a
    TLS 1.0 client does too."""
    async with serving(session_store, "--tls-min", "TLSv1", "--ciphers",
                       "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA", *OPTIONS) as server:
        modern = await s_client(server.port, "-tls1_2")
        old = await s_client(server.port, "-tls1", *LEVEL_0)
    assert _protocol(modern.output) == "TLSv1.2", modern.output
    assert _protocol(old.output) == "TLSv1", old.output


@pytest_twisted.ensureDeferred
async def test_a_lower_maximum_alone_serves_that_version_and_no_higher(session_store):
    """--tls-max TLSv1.1 on the TLS 1.2-only Teams profile serves TLS 1.1 (the minimum
    follows it down) and refuses TLS 1.2."""
    async with serving(session_store, "--tls-max", "TLSv1.1", "--ciphers", "ECDHE-RSA-AES128-SHA",
                       *OPTIONS) as server:
        old = await s_client(server.port, "-tls1_1", *LEVEL_0)
        modern = await s_client(server.port, "-tls1_2")
    assert _protocol(old.output) == "TLSv1.1", old.output
    assert _protocol(modern.output) is None, modern.output
