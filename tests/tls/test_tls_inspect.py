"""Certificate summaries and client-chain problems, collected rather than first-only."""

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from fakepeer.tls.inspect import (
    Expired,
    MissingExtendedKeyUsage,
    NotYetValid,
    Untrusted,
    WeakKey,
    load_system_roots,
    parse_pem_bundle,
    summarize_certificate,
    validate_client_chain,
)

NOW = dt.datetime.now(dt.UTC)


def test_summary_of_a_leaf(tls_pki):
    """The summary carries names, EKUs, key, dates and both fingerprints of the leaf."""
    leaf = tls_pki.proxy.leaf
    summary = summarize_certificate(leaf)
    assert summary.subject == "CN=sip.pstnhub.microsoft.com,O=[fakepeer lab] tests"
    assert summary.issuer == "CN=Test Proxy Issuing CA,O=[fakepeer lab] tests"
    assert summary.dns_names == ("sip.pstnhub.microsoft.com", "sip2.pstnhub.microsoft.com")
    assert summary.extended_key_usages == ("serverAuth", "clientAuth")
    assert (summary.key_type, summary.key_bits) == ("RSA", 2048)
    assert summary.signature_hash == "sha256"
    assert summary.sha256 == leaf.fingerprint(hashes.SHA256()).hex().upper()
    assert len(summary.sha1) == 40
    assert not summary.is_ca and not summary.self_issued


def test_summary_of_a_root(tls_pki):
    """A root is summarized as a self-issued CA without EKU or SANs."""
    summary = summarize_certificate(tls_pki.proxy_root)
    assert summary.is_ca and summary.self_issued
    assert summary.extended_key_usages is None
    assert summary.dns_names == ()


class TestValidateClientChain:
    def test_good_chain_has_no_findings(self, tls_pki):
        """A trusted, current, dual-EKU RSA-2048 chain yields no findings."""
        assert (
            validate_client_chain(tls_pki.sbc.leaf, tls_pki.sbc.extra, [tls_pki.sbc_root], NOW)
            == []
        )

    def test_untrusted_root_is_found(self, tls_pki):
        """Negative twin: the same chain against another root is Untrusted."""
        [finding] = validate_client_chain(
            tls_pki.sbc.leaf, tls_pki.sbc.extra, [tls_pki.wrong_root], NOW
        )
        assert isinstance(finding, Untrusted)
        assert "no path to a trusted root" in finding.message

    def test_missing_intermediate_is_untrusted(self, tls_pki):
        """Without its intermediate the leaf has no path to the root."""
        findings = validate_client_chain(tls_pki.sbc.leaf, [], [tls_pki.sbc_root], NOW)
        assert [type(f) for f in findings] == [Untrusted]

    @pytest.mark.parametrize(
        ("rule", "missing"),
        [
            ("serverAuth+clientAuth", ("clientAuth",)),
            ("clientAuth", ("clientAuth",)),
            ("serverAuth", None),
            ("any", None),
        ],
    )
    def test_eku_rules_per_era(self, tls_pki, rule, missing):
        """A serverAuth-only leaf fails the 2024 rule and passes the relaxed and 'any' rules."""
        chain = tls_pki.sbc_server_only
        findings = validate_client_chain(chain.leaf, chain.extra, [tls_pki.sbc_root], NOW, rule)
        if missing is None:
            assert findings == []
        else:
            [finding] = findings
            assert isinstance(finding, MissingExtendedKeyUsage)
            assert finding.missing == missing
            assert finding.present == ("serverAuth",)

    def test_every_problem_is_collected(self, tls_pki):
        """An expired RSA-1024 serverAuth-only leaf from a foreign CA yields all four findings."""
        authority = tls_pki.authority(tls_pki.sbc_root, tls_pki.keys[3])
        weak_key = rsa.generate_private_key(65537, 1024)
        leaf = authority.leaf(
            ["sbc.customer.test"],
            weak_key,
            eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
            not_before=NOW - dt.timedelta(days=10),
            not_after=NOW - dt.timedelta(days=1),
        )
        findings = validate_client_chain(leaf, [], [tls_pki.wrong_root], NOW)
        kinds = {type(f) for f in findings}
        assert kinds == {Expired, WeakKey, MissingExtendedKeyUsage, Untrusted}
        assert all(f.message for f in findings)

    def test_expiry_is_not_reported_twice(self, tls_pki):
        """An expired but otherwise trusted leaf is Expired only, not also Untrusted."""
        authority = tls_pki.authority(tls_pki.sbc_root, tls_pki.keys[3])
        leaf = authority.leaf(
            ["sbc.customer.test"],
            tls_pki.keys[2],
            not_before=NOW - dt.timedelta(days=10),
            not_after=NOW - dt.timedelta(days=1),
        )
        findings = validate_client_chain(leaf, [], [tls_pki.sbc_root], NOW)
        assert [type(f) for f in findings] == [Expired]

    def test_not_yet_valid(self, tls_pki):
        """A leaf valid only from tomorrow is NotYetValid."""
        authority = tls_pki.authority(tls_pki.sbc_root, tls_pki.keys[3])
        leaf = authority.leaf(
            ["sbc.customer.test"], tls_pki.keys[2], not_before=NOW + dt.timedelta(days=1)
        )
        assert [type(f) for f in validate_client_chain(leaf, [], [tls_pki.sbc_root], NOW)] == [
            NotYetValid
        ]

    def test_naive_time_and_unknown_rule_are_refused(self, tls_pki):
        """A naive datetime or an unknown EKU rule raises, naming the argument."""
        with pytest.raises(ValueError, match="now:"):
            validate_client_chain(tls_pki.sbc.leaf, [], [], dt.datetime(2026, 1, 1))
        with pytest.raises(ValueError, match="eku_rule:"):
            validate_client_chain(tls_pki.sbc.leaf, [], [], NOW, "codeSigning")


class TestSystemRoots:
    def test_unparsable_blocks_are_skipped_with_a_reason(self, tls_pki):
        """A damaged PEM block is reported as skipped; the good ones still load."""
        from cryptography.hazmat.primitives.serialization import Encoding

        good = tls_pki.sbc_root.public_bytes(Encoding.PEM)
        bad = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
        loaded = parse_pem_bundle(good + bad + good)
        assert loaded.roots == (tls_pki.sbc_root, tls_pki.sbc_root)
        [skipped] = loaded.skipped
        assert skipped.index == 1 and skipped.reason

    @pytest.mark.skipif(
        not Path("/etc/ssl/certs/ca-certificates.crt").exists(), reason="no system CA bundle"
    )
    def test_system_bundle_loads(self):
        """The real public roots load from the system bundle."""
        loaded = load_system_roots()
        assert len(loaded.roots) > 100
        assert all(note.startswith("block ") for note in loaded.warnings)
        assert any("DigiCert Global Root G2" in r.subject.rfc4514_string() for r in loaded.roots)
