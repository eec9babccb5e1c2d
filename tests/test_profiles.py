"""The two real peers as values: what each serves, dials with, and says."""

from __future__ import annotations

import pytest

from fakepeer import sip, tls
from fakepeer.profiles import GENESYS, MICROSOFT, PROFILES, profile_named


def test_each_profile_bundles_its_policies_and_sip_style():
    """Teams requires mutual TLS and presents a certificate when it dials; Genesys
    neither; each writes SIP its own way, from its own host."""
    assert (MICROSOFT.server_policy, MICROSOFT.sip) == (tls.MICROSOFT, sip.MICROSOFT)
    assert (GENESYS.server_policy, GENESYS.sip) == (tls.GENESYS, sip.GENESYS)
    assert MICROSOFT.presents_client_certificate and not GENESYS.presents_client_certificate
    assert MICROSOFT.from_host == "sip-du-a-us.pstnhub.microsoft.com"
    assert GENESYS.from_host.endswith(".byoc.usw2.pure.cloud")
    assert (MICROSOFT.default_era, GENESYS.default_era) == ("microsoft-2026", "genesys")
    assert MICROSOFT.client_policy.ciphers == tls.MICROSOFT.ciphers


def test_profiles_by_name():
    """profile_named finds each profile and names the known ones otherwise."""
    assert [profile_named(name) for name in PROFILES] == [MICROSOFT, GENESYS]
    with pytest.raises(ValueError, match="unknown profile 'cisco'; known: microsoft, genesys"):
        profile_named("cisco")
