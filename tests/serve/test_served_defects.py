"""Each defect and chain shape, served by a real ``fakepeer serve``, as openssl s_client
sees it: the verify error it reports and the alert fakepeer records from it."""

from __future__ import annotations

import re

import pytest
import pytest_twisted

from fakepeer.vocabulary import DEFECTS
from tests.serve.harness import s_client, serving

#: The alert OpenSSL's client sends for each verify error (measured with OpenSSL 3.0).
CLIENT_ALERT = {
    9: "bad_certificate", 10: "certificate_expired", 18: "unknown_ca", 20: "unknown_ca",
    23: "certificate_revoked", 26: "unsupported_certificate", 62: "bad_certificate",
    66: "bad_certificate", 68: "bad_certificate",
}

CASES = [name for name, info in DEFECTS.items()
         if info.verify_error is not None and name not in ("revoked", "no-client-auth")]


def _defect(name: str) -> str:
    return "rotated-root=microsoft-2020" if name == "rotated-root" else name


@pytest.mark.parametrize("name", CASES)
@pytest_twisted.ensureDeferred
async def test_defect_is_seen_by_s_client_and_its_alert_logged(session_store, sbc_files, anchors,
                                                        name):
    """s_client reports the defect's verify error; fakepeer logs the SBC-side alert."""
    info = DEFECTS[name]
    async with serving(session_store, "--defect", _defect(name)) as server:
        options = ["-cert", str(sbc_files.cert), "-key", str(sbc_files.key),
                   "-cert_chain", str(sbc_files.chain), "-CAfile",
                   str(anchors["microsoft-2026"]), "-servername",
                   "sip.pstnhub.microsoft.com", "-verify_hostname",
                   "sip.pstnhub.microsoft.com", "-verify_return_error"]
        if info.auth_level is not None:
            options += ["-auth_level", str(info.auth_level)]
        mark = server.mark()
        result = await s_client(server.port, *options)
        match = re.search(r"verify error:num=(\d+)", result.output)
        assert match, result.output
        assert int(match.group(1)) == info.verify_error
        failed = await server.next_event("tls-failed", mark)
        assert failed["failed_by"] == "sbc"
        assert failed["alert"] == CLIENT_ALERT[info.verify_error]


@pytest.mark.parametrize("shape", ["with-root", "reversed", "with-extra"])
@pytest_twisted.ensureDeferred
async def test_chain_shapes_go_on_the_wire_in_order(session_store, sbc_files, shape):
    """s_client -showcerts sees the served certificates in the shape's order."""
    async with serving(session_store, "--defect", shape) as server:
        result = await s_client(server.port, "-showcerts", "-cert", str(sbc_files.cert),
                                "-key", str(sbc_files.key), "-cert_chain", str(sbc_files.chain))
    subjects = re.findall(r"^ *\d+ s:(.*)$", result.output, re.MULTILINE)
    assert subjects[0].endswith("CN = sip.pstnhub.microsoft.com")
    if shape == "with-root":
        assert len(subjects) == 4 and "DigiCert Global Root G2" in subjects[3]
    elif shape == "reversed":
        assert "Root G2" in subjects[1] and "OCSP 02" in subjects[2]
    else:
        assert "Untrusted Lab Root" in subjects[3]
