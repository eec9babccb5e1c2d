# -*- test-case-name: tests.probe.test_caller -*-
"""Who dials the SBC: the cloud peer of one profile and era, as a TLS client and SIP UAC.

A :class:`Caller` holds everything the outbound direction needs and nothing about where
to dial: the TLS policy (versions, suites, groups of the real peer), the client chain
presented (the mirrored proxy chain of the era, with its defects, for Microsoft; none for
Genesys, which never does mutual TLS), the roots the SBC's certificate is judged against,
the era's EKU rule for it and the SIP style of the OPTIONS. ``fakepeer probe`` and
``serve``'s dial-back both build one from a realised scenario with :func:`build_caller`,
so the proxy dials with the very chain it serves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509

from fakepeer import sip
from fakepeer.errors import ConfigError
from fakepeer.pki.chain import ServedChain
from fakepeer.probe.validation import (
    CertificateCheck,
    Profile,
    check_sbc_certificate,
    sbc_eku_rule,
)
from fakepeer.realize import RealizedScenario
from fakepeer.tls import ClientConnectionCreator, TlsPolicy
from fakepeer.tls.inspect import EkuRule
from fakepeer.tls.keylog import KeyLog


@dataclass(frozen=True, slots=True)
class Caller:
    """The cloud side of an outbound connection (see the module docstring).

    ``trust`` are the roots the SBC's certificate must chain to: the system's public
    roots, fakepeer's mirrored roots (which issue lab SBC certificates) and any extra
    roots given. ``sbc_eku`` is the EKU rule for the SBC's leaf. ``from_host`` goes into
    From, Via and Contact of the OPTIONS. ``keylog`` receives the TLS secrets of every
    connection it makes (``--keylog``).
    """

    profile: Profile
    era: str
    policy: TlsPolicy
    client_chain: ServedChain | None
    sip_profile: sip.SipProfile
    trust: tuple[x509.Certificate, ...]
    sbc_eku: EkuRule
    from_host: str
    keylog: KeyLog | None = field(default=None, compare=False)

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
                                           server_name=server_name, keylog=self.keylog)
        except ValueError as exc:
            raise ConfigError(f"{self.label}: {exc}") from None

    def judge(self, sent: Sequence[x509.Certificate], *, expected_name: str | None,
              dialled: str, now: dt.datetime) -> CertificateCheck:
        """The cloud's judgement of the chain the SBC sent (pure, see validation)."""
        return check_sbc_certificate(sent, expected_name=expected_name, dialled=dialled,
                                     trust_roots=self.trust, now=now, profile=self.profile,
                                     eku_rule=self.sbc_eku)


def build_caller(realized: RealizedScenario, *,
                 extra_trust: Sequence[x509.Certificate] = (),
                 sbc_eku: EkuRule | None = None, from_host: str | None = None,
                 keylog: KeyLog | None = None) -> Caller:
    """The caller of a realised scenario: its profile's dialling policy and SIP style,
    the chain it serves as the client certificate (none for a profile that presents
    none), and the roots the cloud trusts plus ``extra_trust``. ``sbc_eku`` defaults to
    the era's rule, ``from_host`` to the profile's."""
    era = realized.scenario.era
    return Caller(
        profile=realized.profile.name, era=era, policy=realized.dialback_policy,
        client_chain=realized.dialback_chain, sip_profile=realized.sip_profile,
        trust=(*realized.client_trust, *extra_trust),
        sbc_eku=sbc_eku or sbc_eku_rule(era),
        from_host=from_host or realized.profile.from_host, keylog=keylog,
    )
