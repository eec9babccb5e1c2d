# -*- test-case-name: tests.test_profiles -*-
"""The real peers fakepeer stands in for, one frozen value each.

A :class:`Profile` bundles what the code used to branch on a profile's name for: the TLS
policy it serves (Teams: TLS 1.2, four ECDHE-RSA suites, mutual TLS; Genesys: its
published suites, no client certificate), the TLS policy it dials with, its SIP style,
the host its own requests come from, whether it presents a client certificate when it
dials, and the era it serves by default. Facts and their sources are in
``fakepeer.tls.policy`` and ``fakepeer.sip.profile``; the names are the vocabulary's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from fakepeer import sip, tls, vocabulary
from fakepeer.sip.builder import DEFAULT_FROM_HOST
from fakepeer.vocabulary import ProfileName

#: Genesys trunk FQDNs look like ``{id}.byoc.usw2.pure.cloud`` [V]; the host label is [?].
GENESYS_FROM_HOST = "lb01.byoc.usw2.pure.cloud"


@dataclass(frozen=True, slots=True)
class Profile:
    """One cloud peer (see the module docstring).

    ``server_policy`` is what an SBC dialling it meets; ``client_policy`` what it offers
    when it dials an SBC (the same suites and versions, as the real proxy uses one TLS
    stack). ``from_host`` goes into From, Via and Contact of its own OPTIONS.
    """

    name: ProfileName
    server_policy: tls.TlsPolicy
    client_policy: tls.TlsPolicy
    sip: sip.SipProfile
    from_host: str
    presents_client_certificate: bool

    @property
    def default_era(self) -> str:
        return vocabulary.PROFILES[self.name].default_era


MICROSOFT = Profile(
    name="microsoft",
    server_policy=tls.MICROSOFT,
    client_policy=dataclasses.replace(tls.MICROSOFT, label="microsoft-client"),
    sip=sip.MICROSOFT,
    # real-peers.md section 2 and 7 [S]: the proxy's own connections come from such names.
    from_host=DEFAULT_FROM_HOST,
    presents_client_certificate=True,
)

GENESYS = Profile(
    name="genesys",
    server_policy=tls.GENESYS,
    client_policy=dataclasses.replace(tls.GENESYS, label="genesys-client"),
    sip=sip.GENESYS,
    from_host=GENESYS_FROM_HOST,
    # real-peers.md section 2 [V]: two one-way TLS connections, never mutual TLS.
    presents_client_certificate=False,
)

PROFILES: Mapping[str, Profile] = MappingProxyType({p.name: p for p in (MICROSOFT, GENESYS)})


def profile_named(name: str) -> Profile:
    """The profile called ``name``; a ValueError lists the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None


def _check_names() -> None:
    """The profiles are the vocabulary's, and each serves the client-certificate mode
    the vocabulary (and so scenario validation) assumes for it."""
    if tuple(PROFILES) != vocabulary.PROFILE_NAMES:
        raise ValueError(f"profiles {list(PROFILES)} differ from the vocabulary's "
                         f"{list(vocabulary.PROFILE_NAMES)}")
    for profile in PROFILES.values():
        wanted = vocabulary.PROFILES[profile.name].client_certificate
        if profile.server_policy.client_certificate != wanted:
            raise ValueError(f"profile {profile.name} asks for a client certificate "
                             f"{profile.server_policy.client_certificate!r}; the vocabulary "
                             f"says {wanted!r}")


_check_names()
