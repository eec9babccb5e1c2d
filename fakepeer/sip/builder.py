# -*- test-case-name: tests.sip.test_builder -*-
"""Requests fakepeer sends itself: the OPTIONS the Teams proxy sends back to an SBC.

After a valid OPTIONS exchange the real proxy opens its own TLS connection to the
Contact FQDN and port and sends an OPTIONS there (``real-peers.md`` §3), from hosts
named like ``sip-du-a-us.pstnhub.microsoft.com`` [S]. Its exact header layout is not
captured [?]: the request below has the RFC 3261 §8.1.1 headers in the usual order,
spelled the profile's way, with a ``User-Agent`` naming the profile's product.
"""

from __future__ import annotations

import secrets
import uuid

from fakepeer.sip.headers import Headers
from fakepeer.sip.message import Request
from fakepeer.sip.profile import SipProfile

#: real-peers.md §2 [S]: the proxy's outbound connections come from such names.
DEFAULT_FROM_HOST = "sip-du-a-us.pstnhub.microsoft.com"

#: RFC 3261 §8.1.1.7: every branch created by an RFC 3261 element starts with this.
BRANCH_MAGIC = "z9hG4bK"


def build_options(
    profile: SipProfile,
    target_uri: str,
    *,
    via_host: str,
    from_host: str = DEFAULT_FROM_HOST,
    port: int = 5061,
    cseq: int = 1,
    call_id: str | None = None,
    from_tag: str | None = None,
    branch: str | None = None,
    max_forwards: int = 70,
) -> Request:
    """An out-of-dialog OPTIONS to ``target_uri`` (the SBC's Contact), ready to send.

    ``via_host``/``port`` go into Via (``SIP/2.0/TLS host:port;branch=z9hG4bK...``);
    ``from_host`` into From and Contact. ``call_id``, ``from_tag`` and ``branch`` are
    random unless given (given values make tests deterministic; ``branch`` is the part
    after the ``z9hG4bK`` magic cookie).
    """
    if not 0 < port < 65536:
        raise ValueError(f"port must be 1-65535, not {port}")
    branch = BRANCH_MAGIC + (branch if branch is not None else secrets.token_hex(8))
    from_tag = from_tag if from_tag is not None else secrets.token_hex(6)
    call_id = call_id if call_id is not None else str(uuid.uuid4())
    local = f"sip:{from_host}:{port};transport=tls"
    name = profile.header_name
    headers = Headers(
        (
            (name("Via"), f"SIP/2.0/TLS {via_host}:{port};branch={branch}"),
            (name("Max-Forwards"), str(max_forwards)),
            (name("From"), f"<{local}>;tag={from_tag}"),
            (name("To"), f"<{target_uri}>"),
            (name("Call-ID"), call_id),
            (name("CSeq"), f"{cseq} OPTIONS"),
            (name("Contact"), f"<{local}>"),
            (name("User-Agent"), profile.server),
            (name("Content-Length"), "0"),
        )
    )
    return Request("OPTIONS", target_uri, headers)
