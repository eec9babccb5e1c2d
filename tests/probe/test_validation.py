"""The cloud's check of an SBC certificate, as pure functions: each problem, each twin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fakepeer.pki.keys import KeySpec
from fakepeer.pki.model import dns
from fakepeer.pki.situation import Situation, build_situation, sbc_chain
from fakepeer.probe.validation import (
    ExpiringSoon,
    IncompleteChain,
    IpAddressName,
    NameMismatch,
    NoHostName,
    check_sbc_certificate,
    problem_kind,
    sbc_eku_rule,
)
from fakepeer.realize import client_trust
from fakepeer.tls.inspect import Expired, MissingExtendedKeyUsage, Untrusted, WeakKey
from tests.probe.conftest import SBC, _lab_leaf, _profile


@pytest.fixture(scope="module")
def trust(session_store):
    from tests.conftest import make_pki

    return client_trust(make_pki(session_store))


def check(chain, trust, name=SBC, **kwargs):
    return check_sbc_certificate(chain.sent if hasattr(chain, "sent") else chain,
                                 expected_name=name, dialled=name or "127.0.0.1",
                                 trust_roots=trust, now=datetime.now(UTC), **kwargs)


def kinds(result):
    return {type(f) for f in result.problems}


def test_a_full_chain_naming_the_fqdn_is_accepted(chains, trust):
    """A lab SBC certificate from a mirrored public CA, full chain, right name: no problem."""
    result = check(chains.good, trust)
    assert result.problems == ()
    assert result.accepted


def test_an_expired_leaf_is_refused_once_as_expired(chains, trust):
    """An expired leaf is one Expired problem, not also an untrusted path."""
    result = check(chains.expired, trust)
    assert kinds(result) == {Expired}
    assert not result.accepted


def test_another_name_is_a_name_mismatch_listing_the_names(chains, trust):
    """The FQDN dialled must be the CN or a SAN; the problem lists what the cert names."""
    result = check(chains.wrong_name, trust)
    assert kinds(result) == {NameMismatch}
    assert "other.lab.example" in result.problems[0].message


def test_a_one_label_wildcard_covers_the_fqdn(pki, trust):
    """*.lab.example covers sbc.lab.example: accepted."""
    assert check(sbc_chain(pki, ("*.lab.example",)), trust).accepted


def test_a_wildcard_does_not_cover_two_labels(pki, trust):
    """*.lab.example does not cover a.sbc.lab.example: a name mismatch."""
    result = check(sbc_chain(pki, ("*.lab.example",)), trust, name="a.sbc.lab.example")
    assert kinds(result) == {NameMismatch}


def test_the_leaf_alone_is_an_incomplete_chain(chains, trust):
    """A leaf sent without its issuing CA is IncompleteChain (and so untrusted)."""
    result = check([chains.good.leaf], trust)
    assert kinds(result) == {IncompleteChain, Untrusted}
    assert "DigiCert Global G2 TLS RSA SHA256 2020 CA1" in result.problems[0].message


def test_an_untrusted_issuer_is_untrusted_not_incomplete(chains, trust):
    """A chain from a CA outside the trusted roots is Untrusted only."""
    result = check(chains.untrusted, trust)
    assert kinds(result) == {Untrusted}


def test_an_ip_only_certificate_dialled_by_ip_fails_for_genesys(chains, trust):
    """Genesys validates host names: an IP-only certificate dialled by IP gets both problems."""
    result = check(chains.ip_only, trust, name=None, profile="genesys")
    assert kinds(result) == {IpAddressName, NoHostName}
    assert "Genesys" in " ".join(f.message for f in result.problems)


def test_a_good_certificate_dialled_by_ip_without_fqdn_has_no_name_to_check(chains, trust):
    """Dialled by IP address with no FQDN, even a good certificate cannot be name-checked."""
    result = check(chains.good, trust, name="127.0.0.1")
    assert kinds(result) == {NoHostName}


def test_the_2023_rule_wants_client_auth_and_the_2026_rule_does_not(pki, trust):
    """A serverAuth-only certificate fails the 2024-03 rule of the 2023 era, passes 2026's."""
    proxy = build_situation(pki, Situation(era="microsoft-2026"))
    name = "sip.pstnhub.microsoft.com"
    old = check(proxy, trust, name=name, eku_rule=sbc_eku_rule("microsoft-2023"))
    new = check(proxy, trust, name=name, eku_rule=sbc_eku_rule("microsoft-2026"))
    assert kinds(old) == {MissingExtendedKeyUsage}
    assert new.accepted


def test_a_1024_bit_key_is_weak(pki, trust):
    """An RSA 1024 key is below Microsoft's 2048-bit minimum."""
    weak = _lab_leaf(pki, "weak", _profile("weak", SBC, dns(SBC)).but(key=KeySpec("RSA", 1024)))
    assert WeakKey in kinds(check(weak, trust))


def test_a_leaf_ending_within_30_days_is_a_warning_only(pki, trust):
    """CertExpiring is reported but does not refuse the certificate."""
    now = datetime.now(UTC)
    soon = _lab_leaf(pki, "soon", _profile("soon", SBC, dns(SBC)),
                     (now - timedelta(days=100), now + timedelta(days=10)))
    result = check(soon, trust)
    assert kinds(result) == {ExpiringSoon}
    assert result.accepted and result.warnings and not result.blocking
    assert result.to_json()[0] == {"kind": "expiring-soon", "blocking": False, "depth": 0,
                                      "message": result.problems[0].message}


def test_no_certificate_at_all_is_refused(trust):
    """An empty chain is refused with one problem."""
    result = check([], trust)
    assert not result.accepted
    assert problem_kind(result.problems[0]) == "no-certificate"
