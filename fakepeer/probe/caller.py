# -*- test-case-name: tests.probe.test_caller -*-
"""Who dials the SBC: the cloud peer of one profile and era, as a TLS client and SIP UAC.

A :class:`Caller` holds everything the outbound direction needs and nothing about where
to dial: the TLS policy (versions, suites, groups of the real peer), the client chain
presented (the mirrored proxy chain of the era, with its defects, for Microsoft; none for
Genesys, which never does mutual TLS), the roots the SBC's certificate is judged against,
the era's EKU rule for it and the SIP style of the OPTIONS. ``fakepeer probe`` and
``serve``'s dial-back both build one with :func:`build_caller`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from fakepeer import sip, vocabulary
from fakepeer.errors import ConfigError, PkiError
from fakepeer.peer import client_trust
from fakepeer.pki import mirrors
from fakepeer.pki.chain import ServedChain
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.situation import Situation, build_situation
from fakepeer.probe.validation import (
    CertificateCheck,
    Profile,
    check_sbc_certificate,
    sbc_eku_rule,
)
from fakepeer.sip.builder import DEFAULT_FROM_HOST
from fakepeer.tls import GENESYS, MICROSOFT, ClientConnectionCreator, TlsPolicy
from fakepeer.tls.inspect import EkuRule

#: real-peers.md section 2 [S]: the proxy's outbound connections come from such names.
MICROSOFT_FROM_HOST = DEFAULT_FROM_HOST
#: Genesys trunk FQDNs look like ``{id}.byoc.usw2.pure.cloud`` [V]; the host label is [?].
GENESYS_FROM_HOST = "lb01.byoc.usw2.pure.cloud"


@dataclass(frozen=True, slots=True)
class Caller:
    """The cloud side of an outbound connection (see the module docstring).

    ``trust`` are the roots the SBC's certificate must chain to: the system's public
    roots, fakepeer's mirrored roots (which issue lab SBC certificates) and any extra
    roots given. ``sbc_eku`` is the EKU rule for the SBC's leaf. ``from_host`` goes into
    From, Via and Contact of the OPTIONS.
    """

    profile: Profile
    era: str
    policy: TlsPolicy
    client_chain: ServedChain | None
    sip_profile: sip.SipProfile
    trust: tuple[x509.Certificate, ...]
    sbc_eku: EkuRule
    from_host: str

    @property
    def label(self) -> str:
        """``microsoft (microsoft-2026/digicert-g2)`` or ``genesys (genesys, no client
        certificate)``."""
        if self.client_chain is None:
            return f"{self.profile} ({self.era}, no client certificate)"
        return f"{self.profile} ({self.client_chain.label})"

    def creator(self, server_name: str | None) -> ClientConnectionCreator:
        """A connection creator presenting the client chain, SNI ``server_name``.

        The SBC's certificate is verified by OpenSSL against :attr:`trust` only to record
        its verify errors (the numbers an SBC engineer knows); the decision is
        :meth:`judge`'s, after the handshake.
        """
        try:
            return ClientConnectionCreator(self.policy, self.client_chain, self.trust,
                                           server_name=server_name)
        except ValueError as exc:
            raise ConfigError(f"{self.label}: {exc}") from None

    def judge(self, sent: Sequence[x509.Certificate], *, expected_name: str | None,
              dialled: str, now: dt.datetime) -> CertificateCheck:
        """The cloud's judgement of the chain the SBC sent (pure, see validation)."""
        return check_sbc_certificate(sent, expected_name=expected_name, dialled=dialled,
                                     trust_roots=self.trust, now=now, profile=self.profile,
                                     eku_rule=self.sbc_eku)


def build_caller(
    pki: Pki,
    *,
    profile: str | None = None,
    era: str | None = None,
    path: str | None = None,
    defects: Sequence[str] = (),
    extra_trust: Sequence[x509.Certificate] = (),
    sbc_eku: EkuRule | None = None,
    from_host: str | None = None,
) -> Caller:
    """The caller for a profile and era, defaulting each from the other as ``serve`` does.

    Defects apply to the client chain, so they need the Microsoft profile. Defects that
    OpenSSL refuses to load at its default security level (SHA-1, RSA 1024) lower it, as
    ``serve`` does for the chains it serves.
    """
    era = era or ("genesys" if profile == "genesys" else mirrors.DEFAULT_ERA)
    if era not in mirrors.ERAS:
        raise ConfigError(f"--era {era!r}: unknown; known eras: {', '.join(mirrors.ERAS)}")
    chosen = profile or vocabulary.ERAS[era].profile
    if chosen not in ("microsoft", "genesys"):
        raise ConfigError(f"--profile {chosen!r}: expected microsoft or genesys")
    kind: Profile = "microsoft" if chosen == "microsoft" else "genesys"
    policy = MICROSOFT if kind == "microsoft" else GENESYS
    chain: ServedChain | None = None
    if kind == "genesys":
        if defects or path:
            raise ConfigError("--defect/--path shape the client certificate, and Genesys "
                              "presents none (it never does mutual TLS)")
    else:
        try:
            chain = build_situation(pki, Situation(era, path, tuple(defects)))
        except PkiError as exc:
            raise ConfigError(str(exc)) from None
        if vocabulary.needs_security_level_0(defects):
            policy = policy.with_insecure_security_level(0)
    policy = dataclasses.replace(policy, label=f"{kind}-client")
    return Caller(
        profile=kind, era=era, policy=policy, client_chain=chain,
        sip_profile=sip.MICROSOFT if kind == "microsoft" else sip.GENESYS,
        trust=(*client_trust(pki), *extra_trust),
        sbc_eku=sbc_eku or sbc_eku_rule(era),
        from_host=from_host or (MICROSOFT_FROM_HOST if kind == "microsoft"
                                else GENESYS_FROM_HOST),
    )
