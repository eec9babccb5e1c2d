# -*- test-case-name: tests.sip.test_responder -*-
"""How a peer writes SIP: header spelling and order, Allow, Server, To-tags, its rules.

Two built-ins: :data:`MICROSOFT`, shaped exactly like the Teams Direct Routing proxy's
captured 200 OK (``real-peers.md`` §3), and :data:`GENESYS`, a conventional layout for
Genesys Cloud BYOC for which no capture exists (every Genesys value is an assumption).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fakepeer.sip.grammar import is_token

#: The slot in :attr:`SipProfile.layout` where per-response extras go (Allow, Reason...).
EXTRAS = "*"

#: Headers a response layout can place; each is copied from the request or computed.
LAYOUT_NAMES = frozenset({"From", "To", "CSeq", "Call-ID", "Via", "Content-Length", "Server"})

#: Canonical spelling of every header name fakepeer writes (RFC 3261 §20).
_WRITTEN = ("Allow", "Reason", "Warning", "Max-Forwards", "Contact", "User-Agent", "Supported")
_CANONICAL = {name.lower(): name for name in (*LAYOUT_NAMES, *_WRITTEN)}


@dataclass(frozen=True, slots=True)
class SipProfile:
    """One peer's SIP style and admission rules, as data.

    ``layout`` lists the response headers in order, by canonical name, with
    :data:`EXTRAS` marking where response-specific headers (``Allow``, ``Reason``,
    ``Warning``) go. ``upper_case_names`` writes every name upper case (Teams).
    ``tag_options_responses``: whether responses to OPTIONS get a To-tag; the Teams
    proxy adds none (against RFC 3261 §8.2.6.2), responses to other methods always get
    one. ``contact_rules`` turns on the Direct Routing Contact checks and
    ``reject_replaces`` the refusal of requests with a ``Replaces`` header.
    """

    name: str
    server_product: str
    server_version: str = ""
    server_instance: str = ""
    upper_case_names: bool = False
    layout: tuple[str, ...] = (
        "Via", "From", "To", "Call-ID", "CSeq", EXTRAS, "Server", "Content-Length",
    )
    allow: tuple[str, ...] = ("INVITE", "ACK", "OPTIONS", "CANCEL", "BYE")
    allow_separator: str = ", "
    tag_options_responses: bool = True
    contact_rules: bool = False
    reject_replaces: bool = False
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.layout.count(EXTRAS) != 1:
            raise ValueError(f"profile {self.name}: layout needs exactly one {EXTRAS!r} slot")
        unknown = set(self.layout) - LAYOUT_NAMES - {EXTRAS}
        if unknown:
            raise ValueError(f"profile {self.name}: layout cannot place {sorted(unknown)}")
        bad = [method for method in self.allow if not is_token(method)]
        if bad:
            raise ValueError(f"profile {self.name}: Allow entries {bad} are not tokens")
        if self.allow_separator.strip() != ",":
            raise ValueError(f"profile {self.name}: allow_separator must be a comma")

    @property
    def server(self) -> str:
        """The ``Server``/``User-Agent`` value: product, version and instance."""
        parts = (self.server_product, self.server_version, self.server_instance)
        return " ".join(part for part in parts if part)

    @property
    def allow_value(self) -> str:
        """The ``Allow`` value, in the profile's order and separator."""
        return self.allow_separator.join(self.allow)

    def header_name(self, canonical: str) -> str:
        """How this profile spells a header name (``Call-ID`` or ``CALL-ID``)."""
        spelled = _CANONICAL.get(canonical.lower(), canonical)
        return spelled.upper() if self.upper_case_names else spelled


MICROSOFT = SipProfile(
    name="microsoft",
    # real-peers.md §3: "SERVER: Microsoft.PSTNHub.SIPProxy v.2020.7.31.1 i.USWE2.3";
    # version is v.<yyyy>.<m>.<d>.<build>, instance i.<region>.<n> (another capture:
    # v.2020.5.27.2 i.ASEA.5). SBCs detect Teams by the product string.
    server_product="Microsoft.PSTNHub.SIPProxy",
    server_version="v.2020.7.31.1",
    server_instance="i.USWE2.3",
    upper_case_names=True,
    layout=("From", "To", "CSeq", "Call-ID", "Via", "Content-Length", EXTRAS, "Server"),
    allow=("INVITE", "ACK", "OPTIONS", "CANCEL", "BYE", "NOTIFY"),
    allow_separator=",",
    tag_options_responses=False,
    contact_rules=True,
    reject_replaces=True,
    notes=(
        "200 OK to OPTIONS is byte-for-byte the captured layout [V].",
        "Layout of error responses (403, 405, 481, 501, 503) is not captured; they reuse "
        "the 200 OK layout with Allow/Reason/Warning in the extras slot [?].",
    ),
)

GENESYS = SipProfile(
    name="genesys",
    # Assumption [?]: no capture of a Genesys Cloud BYOC response exists in
    # real-peers.md. This is a conventional RFC 3261 layout (Via first, To-tag added,
    # canonical case, Content-Length last) with an Edge-like product string; change it
    # when a real capture is available.
    server_product="Genesys Cloud Edge",
    server_version="1.0",
    layout=("Via", "From", "To", "Call-ID", "CSeq", EXTRAS, "Server", "Content-Length"),
    allow=("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "NOTIFY", "PRACK", "UPDATE"),
    allow_separator=", ",
    tag_options_responses=True,
    contact_rules=False,
    reject_replaces=False,
    notes=("No capture exists: header layout, Allow and Server are assumptions [?].",),
)
