# -*- test-case-name: tests.test_addresses -*-
"""Host and port text, read once for every command and file: ``HOST:PORT`` (``[v6]:PORT``
for IPv6), and whether a host is an IP address.

``--listen``, ``fakepeer probe HOST[:PORT]``, a plan's ``listen``, ``--sbc`` and
``healthcheck`` all parse here, so they accept the same spellings and fail with the same
words. Standard library only, so that the sans-I/O SIP layer may use it too.
"""

from __future__ import annotations

import ipaddress

#: Where Teams and Genesys expect SBCs (SIP over TLS, RFC 5630): the default port.
SIP_TLS_PORT = 5061
#: What serve listens on when a HOST:PORT names no host: every interface, since a lab
#: SBC on another machine must reach it.
ANY_HOST = "0.0.0.0"  # noqa: S104 - a default a user reads, not a bind by itself
_EXAMPLES = "e.g. 0.0.0.0:5061 or [::1]:5061"


class AddressError(ValueError):
    """A HOST:PORT that cannot be used; the message quotes the text and says why."""


def is_ip_address(host: str) -> bool:
    """Whether ``host`` is an IPv4 or IPv6 address, bare or in brackets (as a URI or a
    HOST:PORT writes an IPv6 host)."""
    if host.startswith("[") != host.endswith("]"):
        return False
    bare = host[1:-1] if host.startswith("[") else host
    if ":" not in bare and not bare.replace(".", "").isdigit():
        return False  # IPv6 always has a colon, IPv4 only digits and dots: a name, fast
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        return False
    return True


def parse_host_port(text: str, *, default_port: int | None = None, lowest_port: int = 1,
                    default_host: str | None = None) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` (and ``host`` or a bare IPv6 address when there is a
    ``default_port``) -> (host without brackets, port).

    A port must be ``lowest_port``-65535 (0 asks the system for a free one when
    listening); an empty host is ``default_host`` when one is given.
    """
    given = text.strip()
    if not given:
        raise AddressError("HOST:PORT: empty")
    if given.startswith("["):
        host, closed, rest = given[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise AddressError(f"{text!r}: expected [IPv6]:PORT")
        port_text = rest[1:]
    elif given.count(":") == 1 or (given.count(":") > 1 and default_port is None):
        host, _, port_text = given.rpartition(":")
    else:
        host, port_text = given, ""  # a name, an IPv4 address, or a bare IPv6 address
    if not port_text:
        if default_port is None:
            raise AddressError(f"{text!r} is not HOST:PORT: no port (expected HOST:PORT, "
                               f"{_EXAMPLES})")
        port = default_port
    elif not port_text.isdigit() or not lowest_port <= int(port_text) <= 65535:
        raise AddressError(f"{text!r}: port must be {lowest_port}-65535")
    else:
        port = int(port_text)
    if not host:
        if default_host is None:
            raise AddressError(f"{text!r}: no host")
        host = default_host
    return host, port


def listen_address(text: str) -> tuple[str, int]:
    """Where to listen: ``HOST:PORT`` with port 0-65535 (0: any free port) and an empty
    host meaning every interface."""
    return parse_host_port(text, lowest_port=0, default_host=ANY_HOST)
