# -*- test-case-name: tests.test_vocabulary -*-
"""The words every layer shares, written once: profiles, eras and chain paths, defects,
TLS versions and alerts, client-certificate modes and CA lists, the seven roots.

Scenario files are checked against these names, the PKI keeps its certificate data keyed
by them (``pki.mirrors`` and ``pki.defects`` refuse at import to cover any other set),
and the TLS tables add meanings to them. So this module is data and small pure checks:
it imports nothing from fakepeer and nothing outside the standard library, and any layer
may import it.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

# --- profiles, eras and chain paths -----------------------------------------------------

ProfileName = Literal["microsoft", "genesys"]
ClientCertificateMode = Literal["required", "optional", "off"]
"""``required``: no usable client certificate fails the handshake; ``optional``: ask,
accept anything and report it; ``off``: do not send a CertificateRequest."""

CLIENT_CERTIFICATE_MODES: tuple[ClientCertificateMode, ...] = ("required", "optional", "off")

CaListChoice = Literal["empty", "seven-roots", "public-bundle", "oversize"]
#: What a scenario may put in the CertificateRequest: no names, the seven roots of 2026,
#: those plus the system's public bundle, or a list past Schannel's 16 KB cap.
CA_LISTS: tuple[CaListChoice, ...] = ("empty", "seven-roots", "public-bundle", "oversize")


@dataclass(frozen=True, slots=True)
class ProfileTerms:
    """A real peer by name: whether it asks an SBC for a client certificate by default
    (Teams requires mutual TLS, Genesys never does: real-peers.md sections 2-3) and the
    era it serves when none is named."""

    name: ProfileName
    client_certificate: ClientCertificateMode
    default_era: str


PROFILES: Mapping[str, ProfileTerms] = MappingProxyType({
    "microsoft": ProfileTerms("microsoft", "required", "microsoft-2026"),
    "genesys": ProfileTerms("genesys", "off", "genesys"),
})
PROFILE_NAMES: tuple[ProfileName, ...] = ("microsoft", "genesys")
DEFAULT_PROFILE: ProfileName = "microsoft"


@dataclass(frozen=True, slots=True)
class EraTerms:
    """One PKI era of a peer and the names of its chain paths, the default one first."""

    name: str
    profile: ProfileName
    paths: tuple[str, ...]

    @property
    def default_path(self) -> str:
        return self.paths[0]


ERAS: Mapping[str, EraTerms] = MappingProxyType({era.name: era for era in (
    EraTerms("microsoft-2020", "microsoft", ("baltimore",)),
    EraTerms("microsoft-2023", "microsoft",
             ("digicert-g2", "microsoft-2017", "ecc-g3", "ecc-microsoft-2017")),
    # Every 2026 branch to each anchor an SBC may or may not trust (real-peers.md section
    # 7): RSA via the DigiCert G2 cross [V], the 2017 cross [?], self-signed [S], the G5
    # cross [S/?]; ECC via the DigiCert G3 cross [V], self-signed [S], the G5 cross
    # [S/?], the 2017 cross [?]; and a chain to DigiCert Global Root CA [?].
    EraTerms("microsoft-2026", "microsoft",
             ("digicert-g2", "microsoft-2017", "self-signed-g2", "digicert-g5", "ecc-g3",
              "ecc-self-signed-g2", "ecc-digicert-g5", "ecc-microsoft-2017",
              "digicert-global-root-ca")),
    EraTerms("genesys", "genesys",
             ("digicert-g2", "digicert-g3", "digicert-ev", "digicert-global-ca-g2")),
)})
DEFAULT_ERA = "microsoft-2026"


def default_era_of(profile: str | None) -> str:
    """The era a profile serves when none is named (the default profile's for ``None``)."""
    return PROFILES[profile or DEFAULT_PROFILE].default_era


#: The roots Microsoft asks Direct Routing SBCs to trust from 2026 (real-peers.md
#: section 1 and 7 [V]), by the mirrors' CA ids, in the order the guidance lists them.
SEVEN_ROOTS: tuple[str, ...] = (
    "digicert-global-root-ca",
    "digicert-global-root-g2",
    "digicert-global-root-g3",
    "digicert-tls-ecc-p384-root-g5",
    "digicert-tls-rsa4096-root-g5",
    "microsoft-ecc-root-2017",
    "microsoft-rsa-root-2017",
)



@dataclass(frozen=True, slots=True)
class SbcSetup:
    """A way the SBC under test may be set up, beside the one a scenario's expectation is
    stated for: which roots it trusts (``None``: as the scenario says) and whether it
    checks CRL/OCSP (``None``: as the scenario says). The expectation for each follows
    from what is served (``fakepeer.realize``): an anchor it does not trust is refused
    with unknown_ca, a revoked certificate with certificate_revoked when it checks."""

    name: str
    summary: str
    roots: tuple[str, ...] | None = None
    checks_revocation: bool | None = None


SBC_SETUPS: Mapping[str, SbcSetup] = MappingProxyType({setup.name: setup for setup in (
    SbcSetup("seven-roots", "trusts the seven roots Microsoft lists for 2026", SEVEN_ROOTS),
    SbcSetup("g2-only", "trusts only DigiCert Global Root G2, as most SBCs did in 2023",
             ("digicert-global-root-g2",)),
    SbcSetup("g2-and-rsa-2017", "trusts DigiCert Global Root G2 and Microsoft RSA Root CA "
             "2017, the 2023 guidance", ("digicert-global-root-g2", "microsoft-rsa-root-2017")),
    # Mozilla and Chrome removed DigiCert Global Root CA for TLS on 2026-04-15 [V].
    SbcSetup("browser-policy", "trusts what Mozilla and Chrome trust for TLS from 2026-04-15: "
             "the seven roots but DigiCert Global Root CA",
             tuple(r for r in SEVEN_ROOTS if r != "digicert-global-root-ca")),
    SbcSetup("checks-revocation", "checks CRL or OCSP for every certificate of the chain",
             checks_revocation=True),
    SbcSetup("no-revocation-check", "checks no CRL or OCSP, as most SBCs by default",
             checks_revocation=False),
)})

# --- TLS versions and alerts ------------------------------------------------------------

TlsVersionName = Literal["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
#: As OpenSSL names them on a connection, lowest first.
TLS_VERSIONS: tuple[TlsVersionName, ...] = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
#: OpenSSL 3 refuses TLS 1.0/1.1 handshakes (their MD5+SHA-1 signatures) at its default
#: security level 1, so serving them on purpose needs level 0.
_VERSIONS_BELOW_LEVEL_1: frozenset[str] = frozenset({"TLSv1", "TLSv1.1"})

#: TLS alert description code -> registry name (RFC 8446 section 6, RFC 5246 section 7.2,
#: the IANA "TLS Alerts" registry). ``fakepeer.tls.alerts`` adds what each one means.
ALERT_NAMES: Mapping[int, str] = MappingProxyType({
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
    21: "decryption_failed", 22: "record_overflow", 30: "decompression_failure",
    40: "handshake_failure", 41: "no_certificate", 42: "bad_certificate",
    43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
    46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied",
    50: "decode_error", 51: "decrypt_error", 60: "export_restriction", 70: "protocol_version",
    71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback",
    90: "user_canceled", 100: "no_renegotiation", 109: "missing_extension",
    110: "unsupported_extension", 111: "certificate_unobtainable", 112: "unrecognized_name",
    113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
    115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol",
    121: "ech_required",
})

#: OpenSSL 3.x ``ssl_x509err2alert`` (ssl/statem/statem_lib.c): the alert an OpenSSL peer
#: sends when certificate verification stops on a verify error. Codes not listed fall to
#: certificate_unknown(46), which is also what X509_V_OK maps to.
OPENSSL_ALERT_FOR_VERIFY_ERROR: Mapping[int, int] = MappingProxyType({
    2: 48, 3: 48, 4: 42, 5: 42, 6: 42, 7: 51, 8: 51, 9: 42, 10: 45, 11: 42, 12: 45, 13: 42,
    14: 42, 15: 42, 16: 42, 17: 80, 18: 48, 19: 48, 20: 48, 21: 48, 22: 48, 23: 44, 25: 48,
    26: 43, 27: 42, 28: 42, 33: 48, 50: 40, 62: 42, 63: 42, 64: 42, 65: 42, 66: 42, 67: 42,
    68: 42, 69: 80, 70: 80, 79: 48, 94: 42,
})
OPENSSL_DEFAULT_ALERT = 46


def openssl_alert_for(verify_error: int) -> int:
    """The alert an OpenSSL-based verifier sends when it stops on ``verify_error``."""
    return OPENSSL_ALERT_FOR_VERIFY_ERROR.get(verify_error, OPENSSL_DEFAULT_ALERT)


# --- defects ----------------------------------------------------------------------------

ArgumentKind = Literal["none", "dns", "ip", "era"]
#: What a defect changes. ``era`` moves the whole chain to another era's default path.
Change = Literal["leaf-dates", "leaf-names", "leaf-key", "leaf-signature", "leaf-eku",
                 "issuer", "anchor", "era", "revocation", "chain-shape"]

_PLACEHOLDER: Mapping[str, str] = MappingProxyType({"dns": "DNS", "ip": "IP", "era": "ERA"})


@dataclass(frozen=True, slots=True)
class Defect:
    """A deliberate flaw a scenario can ask for by name; ``fakepeer.pki.defects`` says
    how each one is applied to a certificate.

    ``verify_error`` is what an OpenSSL-family verifier reports (``openssl verify``
    numbering), seen with ``-auth_level auth_level`` when that is set;
    ``needs_security_level_0``: OpenSSL 3 refuses to even load it at its default level.
    """

    name: str
    summary: str
    changes: Change
    verify_error: int | None
    argument: ArgumentKind = "none"
    argument_required: bool = False
    argument_help: str = ""
    auth_level: int | None = None
    needs_security_level_0: bool = False

    @property
    def takes_argument(self) -> bool:
        return self.argument != "none"

    @property
    def chooses_shape(self) -> bool:
        """It chooses what is sent after the leaf (at most one such defect applies)."""
        return self.changes == "chain-shape"

    @property
    def moves_era(self) -> bool:
        """It re-issues the leaf under the era named by its argument."""
        return self.changes == "era"

    @property
    def refused_by_correct_sbc(self) -> bool:
        """A correctly configured SBC refuses the chain. A move to another era is not
        refused: such an SBC trusts every era's roots (the point of the rotation drill)."""
        return self.verify_error is not None and not self.moves_era


_DEFECT_LIST = (
    Defect("expired-leaf", "the leaf expired yesterday", "leaf-dates", 10),
    Defect("not-yet-valid", "the leaf becomes valid in 30 days", "leaf-dates", 9),
    Defect("expired-intermediate", "the issuing CA re-issued with dates in the past "
           "(as Azure RSA TLS Issuing CA 03 on 2026-08-25)", "issuer", 10),
    Defect("wrong-san", "the leaf names another host", "leaf-names", 62, "dns",
           argument_help="the DNS name to put in the leaf (default "
                         "wrong.host.fakepeer.invalid)"),
    Defect("cn-only", "the leaf has no subjectAltName, only a CN (OpenSSL still matches "
           "the CN; strict verifiers do not)", "leaf-names", None),
    Defect("ip-only-san", "the leaf names only an IP address", "leaf-names", 62, "ip",
           argument_help="the IP address (default 127.0.0.1)"),
    Defect("wildcard-too-deep", "the leaf's only name is a wildcard one label too high "
           "(*.microsoft.com)", "leaf-names", 62),
    Defect("self-signed-leaf", "the leaf signs itself and comes alone", "issuer", 18),
    Defect("untrusted-root", "an impostor root with the real name and another key signs "
           "the chain", "anchor", 20),
    Defect("rotated-root", "the leaf re-issued under another era's chain", "era", 20, "era",
           argument_required=True, argument_help="the era to rotate to (e.g. microsoft-2026)"),
    Defect("sha1-signature", "the leaf is signed with sha1WithRSAEncryption (RSA issuers "
           "only; cryptography cannot build it, fakepeer re-signs it)", "leaf-signature", 68,
           auth_level=1, needs_security_level_0=True),
    Defect("weak-key", "the leaf has an RSA 1024 key", "leaf-key", 66, auth_level=2,
           needs_security_level_0=True),
    Defect("no-server-auth", "the leaf's EKU lacks serverAuth", "leaf-eku", 26),
    Defect("no-client-auth", "the leaf's EKU lacks clientAuth", "leaf-eku", 26),
    Defect("revoked", "the leaf is listed in its issuer's CRL and OCSP", "revocation", 23),
    Defect("leaf-only", "only the leaf is sent: the missing-intermediate case", "chain-shape",
           20),
    Defect("missing-intermediate", "alias of leaf-only", "chain-shape", 20),
    Defect("reversed", "the chain is sent root-side first", "chain-shape", None),
    Defect("with-root", "the root is sent too", "chain-shape", None),
    Defect("with-extra", "an unrelated certificate is sent after the chain", "chain-shape",
           None),
    Defect("both-cross-signed", "both cross-signed versions of each intermediate are sent",
           "chain-shape", None),
)
DEFECTS: Mapping[str, Defect] = MappingProxyType({d.name: d for d in _DEFECT_LIST})
DEFECT_NAMES: tuple[str, ...] = tuple(DEFECTS)


class DefectError(ValueError):
    """A defect text or list that cannot be served. ``index`` is the position of the
    defect in its list (``None`` when the list as a whole is wrong); ``problem`` says
    what is wrong and what is allowed."""

    def __init__(self, problem: str, index: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.index = index


@dataclass(frozen=True, slots=True)
class DefectUse:
    """One ``name[=ARGUMENT]`` of a scenario, looked up (``argument`` ``None`` if none)."""

    defect: Defect
    argument: str | None

    @property
    def text(self) -> str:
        return self.defect.name + (f"={self.argument}" if self.argument is not None else "")


def parse_defect(text: str) -> DefectUse:
    """``name`` or ``name=argument`` -> the defect and its argument (an empty argument is
    none); an unknown name or an argument where none is taken is a DefectError."""
    name, eq, argument = (part.strip() for part in text.partition("="))
    defect = DEFECTS.get(name)
    if defect is None:
        raise DefectError(f"unknown defect {name!r}{did_you_mean(name, DEFECT_NAMES)}; "
                          f"known: {', '.join(DEFECT_NAMES)}")
    if eq and not defect.takes_argument:
        with_one = ", ".join(d.name for d in _DEFECT_LIST if d.takes_argument)
        raise DefectError(f"defect {name} takes no argument (got {argument!r}); defects "
                          f"with one: {with_one}")
    return DefectUse(defect, argument or None)


def check_defects(texts: Iterable[str], era: str) -> tuple[DefectUse, ...]:
    """Every defect of one served chain, checked together: each is known, takes an
    argument only if it can (of the right kind; ``rotated-root=ERA`` names another known
    era), none repeats, at most one chooses the chain shape."""
    uses: list[DefectUse] = []
    seen: set[str] = set()
    for index, text in enumerate(texts):
        try:
            use = parse_defect(text)
            _check_argument(use, era)
        except DefectError as exc:
            raise DefectError(exc.problem, index) from None
        if use.defect.name in seen:
            raise DefectError(f"defect {use.defect.name} is given twice", index)
        seen.add(use.defect.name)
        uses.append(use)
    shapes = [use.defect.name for use in uses if use.defect.chooses_shape]
    if len(shapes) > 1:
        raise DefectError(f"{' and '.join(shapes)} each choose what is sent after the leaf; "
                          "keep one")
    return tuple(uses)


def _check_argument(use: DefectUse, era: str) -> None:
    defect, argument = use.defect, use.argument
    if argument is None:
        if defect.argument_required:
            placeholder = _PLACEHOLDER[defect.argument]
            known = f", ERA one of {', '.join(ERAS)}" if defect.argument == "era" else ""
            raise DefectError(f"defect {defect.name} needs an argument: "
                              f"{defect.name}={placeholder}{known}")
        return
    if defect.argument == "era":
        if argument not in ERAS:
            raise DefectError(f"{defect.name}: unknown era {argument!r}"
                              f"{did_you_mean(argument or '', ERAS)}; known: {', '.join(ERAS)}")
        if argument == era:
            raise DefectError(f"{defect.name}={argument} rotates to the era already served; "
                              "name another era")
    elif defect.argument == "ip":
        try:  # the stdlib's own parse: this module imports nothing of fakepeer's
            ipaddress.ip_address(argument)
        except ValueError:
            raise DefectError(f"{defect.name}: {argument!r} is not an IP address") from None
    elif defect.argument == "dns" and not is_dns_name(argument):
        raise DefectError(f"{argument!r} is not a DNS host name")


def defect_example(name: str, era: str) -> str:
    """The defect as a catalogue of every defect serves it in ``era``: its name, with
    the next era (in ``ERAS`` order) when it needs an era argument."""
    defect = DEFECTS[name]
    if not defect.argument_required:
        return name
    order = list(ERAS)
    return f"{name}={order[(order.index(era) + 1) % len(order)]}"


def chain_era(era: str, defects: Iterable[str]) -> tuple[str, bool]:
    """The era whose chain is served with these (checked) defects, and whether a defect
    moved it there."""
    for use in map(parse_defect, defects):
        if use.defect.moves_era and use.argument is not None:
            return use.argument, True
    return era, False


def needs_security_level_0(defects: Iterable[str], min_version: str | None = None) -> bool:
    """Whether OpenSSL must run at security level 0 to serve these defects (SHA-1
    signatures, RSA-1024 keys) or a TLS 1.0/1.1 handshake."""
    if min_version in _VERSIONS_BELOW_LEVEL_1:
        return True
    return any(parse_defect(text).defect.needs_security_level_0 for text in defects)


# --- host names -------------------------------------------------------------------------

_DNS_NAME = re.compile(r"(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*"
                       r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")


def is_dns_name(text: str) -> bool:
    """A DNS host name (letters, digits and hyphens in labels of 1-63; case and one
    trailing dot ignored), as a defect argument or a tenant domain must be."""
    return bool(_DNS_NAME.match(text.lower().rstrip(".")))


# --- suggestions -------------------------------------------------------------------------


def did_you_mean(value: str, known: Iterable[str], *, cutoff: float = 0.6) -> str:
    """`` (did you mean 'expired-leaf'?)`` for a near miss among ``known``, else ``""``:
    the one hint every "unknown name" message shares. A tie (``microsoft-2099`` is as
    near 2020 as 2026) suggests nothing rather than a guess."""
    scored = sorted(((difflib.SequenceMatcher(None, value, name).ratio(), name)
                     for name in set(known)), reverse=True)
    if not scored or scored[0][0] < cutoff or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return ""
    return f" (did you mean {scored[0][1]!r}?)"
