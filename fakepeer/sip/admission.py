# -*- test-case-name: tests.sip.test_responder -*-
"""The Direct Routing checks on an SBC's Contact, as pure functions over names.

Facts from ``real-peers.md`` §3 [V]: the Contact must be a ``sip:`` URI (SIPS is not
supported) with an FQDN; only the first Contact counts; on a new connection its host
is matched against the CN/SAN DNS names of the SBC's client certificate (exactly, or by
a one-label wildcard: service-identity's rules, injected as a :class:`NameMatcher`) and
against the tenant's domains (the full FQDN, then the FQDN with its host label
stripped). An IP address gets 403 Forbidden. A request with neither
Contact nor Record-Route is rejected with a Q.850 cause 63 Reason [S].
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from fakepeer.addresses import is_ip_address as is_ip_literal
from fakepeer.sip.grammar import (
    address_uri,
    is_fqdn,
    normalise_host,
    parse_sip_uri,
    split_list,
)
from fakepeer.sip.headers import Headers
from fakepeer.sip.message import Request


class AnswerReason(enum.StrEnum):
    """Why fakepeer answered a request as it did; a ``str`` so reports store it as is."""

    OK = "ok"
    OPTIONS_OVERRIDE = "options-override"
    NO_RESPONSE = "no-response"
    CONTACT_MISSING = "contact-missing"
    CONTACT_NOT_SIP = "contact-not-sip"
    CONTACT_IP = "contact-ip"
    CONTACT_NOT_FQDN = "contact-not-fqdn"
    CONTACT_FQDN_NOT_IN_CERTIFICATE = "contact-fqdn-not-in-certificate"
    CONTACT_DOMAIN_NOT_ALLOWED = "contact-domain-not-allowed"
    REPLACES_REJECTED = "replaces-rejected"
    METHOD_NOT_ALLOWED = "method-not-allowed"
    METHOD_NOT_IMPLEMENTED = "method-not-implemented"
    INVITE_REFUSED = "invite-refused"
    NO_DIALOG = "no-dialog"
    MALFORMED = "malformed"


class NameMatcher(Protocol):
    """Whether ``host`` is one of a certificate's DNS ``names`` (exactly or by wildcard).

    Injected, not written here: the matching rules are service-identity's, which
    imports OpenSSL, and this package stays free of it. fakepeer passes
    :func:`fakepeer.tls.identity.matches_certificate_name`.
    """

    def __call__(self, host: str, names: Sequence[str], /) -> bool: ...


@dataclass(frozen=True, slots=True)
class PeerContext:
    """What the connection proved about the SBC, as far as SIP admission cares.

    ``certificate_names``: DNS names from the client certificate's CN and SAN; empty
    when no client certificate was presented. ``tenant_domains``: the domains the
    tenant validated; ``None`` accepts any domain the certificate proves.
    ``mutual_tls``: whether a client certificate was presented and verified; if so and
    it named no DNS host at all, no Contact can match it. ``name_matcher`` decides
    whether a Contact host is one of ``certificate_names``; it is required when there
    are names to match.
    """

    certificate_names: tuple[str, ...] = ()
    tenant_domains: tuple[str, ...] | None = None
    mutual_tls: bool = False
    name_matcher: NameMatcher | None = None

    def __post_init__(self) -> None:
        if isinstance(self.certificate_names, str):
            raise TypeError("certificate_names is a tuple of names, not one str")
        if isinstance(self.tenant_domains, str):
            raise TypeError("tenant_domains is a tuple of domains (or None), not one str")
        if self.certificate_names and self.name_matcher is None:
            raise TypeError("certificate_names need a name_matcher to be checked against "
                            "(fakepeer.tls.identity.matches_certificate_name)")


@dataclass(frozen=True, slots=True)
class ContactVerdict:
    """A failed Contact check: what was wrong and a sentence a lab user can act on."""

    answer_reason: AnswerReason
    explanation: str


def domain_allowed(host: str, tenant_domains: tuple[str, ...]) -> bool:
    """Whether the tenant validated ``host`` itself or its parent (host label stripped)."""
    allowed = {normalise_host(domain) for domain in tenant_domains}
    host = normalise_host(host)
    return host in allowed or host.partition(".")[2] in allowed


#: Direct Routing runs SIP over TLS only, so a Contact without a port means 5061
#: (RFC 3263 §4.2 default for TLS), not SIP's 5060.
DEFAULT_TLS_PORT = 5061


def _first_address(headers: Headers, name: str) -> str | None:
    """The first address of header ``name`` across all its lines, or ``None``."""
    for line in headers.get_all(name):
        items = split_list(line)
        if items:
            return items[0]
    return None


def contact_target(request: Request) -> tuple[str, int] | None:
    """Where the proxy sends its own OPTIONS: host and port of the first SIP Contact.

    ``None`` when there is no Contact or it is not a sip:/sips: URI. The port defaults
    to :data:`DEFAULT_TLS_PORT`. Call it after :func:`check_contact` passed, which has
    already refused IP addresses and names outside the certificate.
    """
    first = _first_address(request.headers, "Contact")
    uri = parse_sip_uri(address_uri(first)) if first is not None else None
    if uri is None:
        return None
    return uri.host, uri.port if uri.port is not None else DEFAULT_TLS_PORT


def check_contact(headers: Headers, peer: PeerContext) -> ContactVerdict | None:
    """The first Direct Routing Contact rule ``headers`` break, or ``None`` if all pass.

    Without a Contact the first Record-Route entry is checked instead [?]: the proxy's
    Reason text names both headers, so either appears to satisfy it.
    """
    source = "Contact"
    first = _first_address(headers, source)
    if first is None:
        source = "Record-Route"
        first = _first_address(headers, source)
    if first is None:
        return ContactVerdict(
            AnswerReason.CONTACT_MISSING,
            "the request has neither Contact nor Record-Route; Direct Routing needs "
            "Contact: <sip:FQDN:port;transport=tls> to know where to send its OPTIONS",
        )
    uri = parse_sip_uri(address_uri(first))
    if uri is None or uri.scheme != "sip":
        scheme = "sips: is not supported" if uri is not None else "it is not a SIP URI"
        return ContactVerdict(
            AnswerReason.CONTACT_NOT_SIP,
            f"{source} {first!r}: {scheme}; Direct Routing needs a sip: URI with an FQDN",
        )
    if is_ip_literal(uri.host):
        return ContactVerdict(
            AnswerReason.CONTACT_IP,
            f"{source} host {uri.host} is an IP address; Direct Routing answers 403 and "
            "needs the SBC's FQDN (the one in its certificate)",
        )
    if not is_fqdn(uri.host):
        return ContactVerdict(
            AnswerReason.CONTACT_NOT_FQDN,
            f"{source} host {uri.host!r} is not a fully qualified domain name",
        )
    checks_certificate = bool(peer.certificate_names) or peer.mutual_tls
    if checks_certificate and not (
        peer.name_matcher is not None
        and peer.name_matcher(uri.host, peer.certificate_names)
    ):
        names = ", ".join(peer.certificate_names) or "no DNS names at all"
        return ContactVerdict(
            AnswerReason.CONTACT_FQDN_NOT_IN_CERTIFICATE,
            f"{source} host {uri.host} matches no name in the SBC's client certificate "
            f"({names}); the match must be exact or a one-label wildcard",
        )
    if peer.tenant_domains is not None and not domain_allowed(uri.host, peer.tenant_domains):
        domains = ", ".join(peer.tenant_domains) or "none"
        return ContactVerdict(
            AnswerReason.CONTACT_DOMAIN_NOT_ALLOWED,
            f"{source} host {uri.host}: neither it nor its parent domain is one of the "
            f"tenant's domains ({domains})",
        )
    return None


class ContactMemo:
    """The Contact verdicts one connection has reached, by the header lines they judged.

    An SBC sends the same Contact in every OPTIONS for days; judging it (URI parse, IP
    and FQDN checks, certificate and tenant matching) once per connection is enough.
    Sans I/O: the caller keeps one per connection and passes it to
    :func:`fakepeer.sip.respond`. Verdicts depend on the peer too, so a different
    :class:`PeerContext` starts afresh; at most ``size`` distinct values are kept, so
    a peer inventing Contacts costs no more than checking each one.
    """

    __slots__ = ("_peer", "_size", "_verdicts")

    def __init__(self, size: int = 16) -> None:
        if size < 1:
            raise ValueError(f"ContactMemo size must be at least 1, not {size}")
        self._size = size
        self._peer: PeerContext | None = None
        self._verdicts: dict[tuple[tuple[str, ...], tuple[str, ...]], ContactVerdict | None] = {}

    def check(self, headers: Headers, peer: PeerContext) -> ContactVerdict | None:
        """:func:`check_contact`'s answer, reached once per distinct Contact/Record-Route."""
        if peer is not self._peer:
            if peer != self._peer:
                self._verdicts.clear()
            self._peer = peer
        index = headers.lookup_index()
        key = (index.get("contact", ()), index.get("record-route", ()))
        try:
            return self._verdicts[key]
        except KeyError:
            pass
        verdict = check_contact(headers, peer)
        if len(self._verdicts) >= self._size:
            self._verdicts.clear()
        self._verdicts[key] = verdict
        return verdict
