"""TlsPolicy values: the two real profiles, validation that names the field, CA lists."""

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from fakepeer.tls.policy import (
    GENESYS,
    GENESYS_IANA_CIPHERS,
    MICROSOFT,
    SCHANNEL_ISSUER_LIST_LIMIT,
    SEVEN_ROOTS,
    SYSTEM_BUNDLE,
    TlsPolicy,
    TlsVersion,
    ca_list_wire_size,
    openssl_cipher_names,
    oversize_ca_list,
    public_bundle_ca_list,
    seven_roots_ca_list,
)


class TestProfiles:
    def test_microsoft_is_tls12_four_suites_mutual(self):
        """Microsoft: TLS 1.2 only, exactly its four ECDHE-RSA suites, client cert required."""
        assert (MICROSOFT.min_version, MICROSOFT.max_version) == ("TLSv1.2", "TLSv1.2")
        assert MICROSOFT.ciphers == (
            "ECDHE-RSA-AES256-GCM-SHA384",
            "ECDHE-RSA-AES128-GCM-SHA256",
            "ECDHE-RSA-AES256-SHA384",
            "ECDHE-RSA-AES128-SHA256",
        )
        assert MICROSOFT.client_certificate == "required"
        assert MICROSOFT.client_certificate_refusal == "sslstream"

    def test_genesys_is_tls12_secp384r1_one_way(self):
        """Genesys: TLS 1.2 only, its eight published suites, secp384r1 only, no client cert."""
        assert MICROSOFT.versions == (TlsVersion.TLS1_2,)
        assert GENESYS.versions == (TlsVersion.TLS1_2,)
        assert len(GENESYS.ciphers) == 8
        assert GENESYS.groups == ("secp384r1",)
        assert GENESYS.client_certificate == "off"

    def test_genesys_translation_agrees_with_openssl(self):
        """Each IANA name maps to the OpenSSL name ``openssl ciphers -stdname`` pairs with it."""
        if shutil.which("openssl") is None:
            pytest.fail("openssl is not installed; scripts/setup.sh --test installs it")
        listing = subprocess.run(
            ["openssl", "ciphers", "-stdname", "ALL:@SECLEVEL=0"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        pairs = dict(line.split()[0:3:2] for line in listing.splitlines() if " - " in line)
        for iana, openssl in zip(GENESYS_IANA_CIPHERS, GENESYS.ciphers, strict=True):
            assert pairs[iana] == openssl

    def test_unknown_iana_name_is_refused(self):
        """A suite without a known OpenSSL name raises, naming the ciphers field."""
        with pytest.raises(ValueError, match="ciphers: no OpenSSL name known for 'TLS_FOO'"):
            openssl_cipher_names(["TLS_FOO"])


class TestValidation:
    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"min_version": "TLSv1.4"}, "min_version: unknown TLS version 'TLSv1.4'"),
            ({"max_version": "SSLv3"}, "max_version: unknown TLS version"),
            ({"min_version": "1.3", "max_version": "1.2"}, "min_version: TLSv1.3 is above"),
            ({"ciphers": ()}, "ciphers: must not be empty"),
            ({"ciphers": ("A:B",)}, "ciphers: 'A:B' is not a single OpenSSL name"),
            ({"tls13_ciphersuites": ()}, "tls13_ciphersuites: must not be empty"),
            ({"groups": ()}, "groups: must not be empty"),
            ({"client_certificate": "sometimes"}, "client_certificate: 'sometimes'"),
            ({"client_certificate_refusal": "schannel"}, "client_certificate_refusal"),
            ({"ca_list": "all"}, "ca_list: 'all'"),
            ({"ca_list": ("CN=x",)}, "ca_list: 'CN=x' is neither"),
            ({"insecure_security_level": 7}, "insecure_security_level: 7"),
            ({"tolerated_verify_errors": {-1}}, "tolerated_verify_errors"),
        ],
    )
    def test_bad_values_raise_naming_the_field(self, changes, message):
        """Invalid input fails in the constructor with a message that starts with the field."""
        with pytest.raises(ValueError, match=message):
            TlsPolicy(**changes)

    def test_sslstream_refusal_needs_tls12(self):
        """SslStream-style refusals cannot be written under TLS 1.3, so that combination fails."""
        with pytest.raises(ValueError, match="client_certificate_refusal: 'sslstream' needs"):
            MICROSOFT.with_versions("TLSv1.2", "TLSv1.3")

    def test_openssl_refusal_allows_tls13(self):
        """The OpenSSL refusal style works with TLS 1.3."""
        policy = MICROSOFT.with_client_certificate("required", refusal="openssl")
        assert policy.with_versions("1.2", "1.3").versions == (TlsVersion.TLS1_2, TlsVersion.TLS1_3)

    def test_cipher_string_is_split(self):
        """A colon-separated string is accepted and stored as a tuple of names."""
        assert TlsPolicy(ciphers="AES128-SHA:AES256-SHA").ciphers == ("AES128-SHA", "AES256-SHA")

    @given(st.text(max_size=12))
    def test_version_parse_only_parses_or_names_the_field(self, text):
        """Any text either parses to a TlsVersion or raises ValueError naming the field."""
        try:
            parsed = TlsVersion.parse(text, "min_version")
        except ValueError as exc:
            assert str(exc).startswith("min_version: unknown TLS version")
        else:
            assert parsed in TlsVersion


class TestNarrowWiden:
    def test_helpers_return_validated_copies(self):
        """with_* helpers copy, leave the original alone and re-validate."""
        wide = MICROSOFT.with_ciphers("ECDHE-RSA-AES256-GCM-SHA384", "AES128-SHA")
        assert wide.ciphers[-1] == "AES128-SHA"
        assert MICROSOFT.ciphers[-1] == "ECDHE-RSA-AES128-SHA256"
        assert MICROSOFT.with_versions("TLSv1").with_client_certificate("off").versions == (
            TlsVersion.TLS1_0,
        )
        with pytest.raises(ValueError, match="ciphers"):
            MICROSOFT.with_ciphers()

    def test_groups_and_security_level(self):
        """Groups narrow to the names given; the insecure security level is a visible knob."""
        assert MICROSOFT.with_groups("secp384r1").groups == ("secp384r1",)
        assert MICROSOFT.with_groups("secp384r1").with_groups().groups is None
        assert MICROSOFT.with_insecure_security_level(0).insecure_security_level == 0

    def test_tolerating_adds_codes(self):
        """tolerating() accumulates verify codes that no longer refuse."""
        assert MICROSOFT.tolerating(26).tolerating(10).tolerated_verify_errors == {10, 26}

    def test_policy_is_frozen(self):
        """A policy cannot be changed in place."""
        with pytest.raises(dataclasses.FrozenInstanceError):
            MICROSOFT.ciphers = ()  # type: ignore[misc]


class TestCaLists:
    def test_seven_roots(self):
        """The seven-roots list names exactly the DigiCert and Microsoft roots of 2026."""
        names = [n.rfc4514_string() for n in seven_roots_ca_list()]
        assert len(names) == 7
        assert "CN=DigiCert Global Root G2,OU=www.digicert.com,O=DigiCert Inc,C=US" in names
        assert "CN=DigiCert TLS RSA4096 Root G5,O=DigiCert\\, Inc.,C=US" in names
        assert seven_roots_ca_list() is SEVEN_ROOTS

    def test_certificates_and_names_are_accepted(self, tls_pki):
        """A CA list may mix certificates (standing for their subjects) and names."""
        policy = MICROSOFT.with_ca_list([tls_pki.sbc_root, *SEVEN_ROOTS[:1]])
        assert policy.ca_list == (tls_pki.sbc_root, SEVEN_ROOTS[0])
        assert ca_list_wire_size(policy.ca_list) == sum(
            2 + len(n.public_bytes()) for n in (tls_pki.sbc_root.subject, SEVEN_ROOTS[0])
        )

    def test_oversize_list_passes_16_kb(self):
        """The oversize list goes just past Schannel's 16 KB issuer-list cap."""
        names = oversize_ca_list()
        size = ca_list_wire_size(names)
        assert SCHANNEL_ISSUER_LIST_LIMIT < size < SCHANNEL_ISSUER_LIST_LIMIT + 200
        assert all(isinstance(n, x509.Name) for n in names)

    def test_oversize_list_keeps_its_base_first(self):
        """Filler names come after the base list, which is kept in order."""
        names = oversize_ca_list(base=SEVEN_ROOTS)
        assert names[:7] == SEVEN_ROOTS
        assert "[fakepeer lab]" in names[7].rfc4514_string()

    @pytest.mark.skipif(not Path(SYSTEM_BUNDLE).exists(), reason="no system CA bundle")
    def test_public_bundle_fits_under_16_kb(self):
        """Debian's public roots make a large list that still fits Schannel's cap."""
        names = public_bundle_ca_list()
        assert len(names) > 100
        assert 10_000 < ca_list_wire_size(names) < SCHANNEL_ISSUER_LIST_LIMIT


@pytest.mark.parametrize(("low", "high", "versions"), [
    ("TLSv1", None, ("TLSv1", "TLSv1.2")),
    (None, "TLSv1.3", ("TLSv1.2", "TLSv1.3")),
    ("TLSv1.3", None, ("TLSv1.3", "TLSv1.3")),
    (None, "TLSv1.1", ("TLSv1.1", "TLSv1.1")),
    ("TLSv1", "TLSv1.1", ("TLSv1", "TLSv1.1")),
])
def test_a_version_bound_alone_moves_only_itself(low, high, versions):
    """One bound replaces the profile's; the other moves only if no version is left."""
    policy = MICROSOFT.with_client_certificate("off").with_version_bounds(low, high)
    assert (policy.min_version, policy.max_version) == tuple(map(TlsVersion, versions))
