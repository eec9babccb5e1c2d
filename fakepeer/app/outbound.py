# -*- test-case-name: tests.probe.test_serve_dialback -*-
"""fakepeer's outbound connections as a running application makes them: the
:class:`~fakepeer.probe.caller.Caller` of a realised scenario with the user's outbound
settings, and the :class:`~fakepeer.probe.dialback.DialBack` each served phase gets
(the proxy dials with the very chain it serves)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography import x509

from fakepeer.net.dialer import DEFAULT_TIMEOUT
from fakepeer.net.reactors import IDialReactor
from fakepeer.probe.caller import Caller, build_caller
from fakepeer.probe.dialback import DialBack
from fakepeer.realize import RealizedScenario
from fakepeer.tls.inspect import EkuRule
from fakepeer.tls.keylog import KeyLog


@dataclass(frozen=True)
class OutboundSettings:
    """How fakepeer dials, beyond what the scenario says: extra roots the SBC's
    certificate may chain to, the EKU rule for it (default: the era's), the host in the
    OPTIONS (default: the profile's), the timeout per phase and the time certificates
    are judged at (default: the clock); ``keylog`` gets the TLS secrets of every dial."""

    extra_trust: tuple[x509.Certificate, ...] = ()
    sbc_eku: EkuRule | None = None
    from_host: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    now: dt.datetime | None = None
    keylog: KeyLog | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError(f"the timeout must be positive, not {self.timeout:g}")

    def caller(self, realized: RealizedScenario) -> Caller:
        """Who dials for ``realized`` (a scenario as served, or as probe describes it)."""
        return build_caller(realized, extra_trust=self.extra_trust, sbc_eku=self.sbc_eku,
                            from_host=self.from_host, keylog=self.keylog)


@dataclass(frozen=True)
class DialbackSettings:
    """When ``serve`` dials an SBC back: ``wanted`` True (``--dialback`` or ``--sbc``),
    False (``--no-dialback``) or None (as each phase's scenario says); ``sbc_map`` maps
    Contact FQDNs to addresses for labs without DNS."""

    wanted: bool | None = None
    sbc_map: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)

    def dialback_for(self, reactor: IDialReactor, realized: RealizedScenario
                     ) -> DialBack | None:
        """The :class:`DialBack` for one served phase, presenting its chain, or ``None``
        when neither the settings nor the phase's scenario (``sip.dialback``) ask for one.
        It reports once ``attach(listeners.sip_factory)`` is called."""
        if self.wanted is False or not (self.wanted or realized.scenario.sip.dialback):
            return None
        return DialBack(reactor, self.outbound.caller(realized), sbc_map=self.sbc_map,
                        timeout=self.outbound.timeout, now=self.outbound.now)

    def dialbacks(self, reactor: IDialReactor,
                  timeline: Sequence[RealizedScenario]) -> list[DialBack | None]:
        """:meth:`dialback_for` of every phase of a realised timeline, in order."""
        return [self.dialback_for(reactor, realized) for realized in timeline]
