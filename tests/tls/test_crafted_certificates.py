"""Crafted certificates an SBC can send: every reader of a peer's certificate copes.

Issue 12 item 1: a client certificate with a malformed subjectAltName made
``summarize_certificate`` raise, reporting failed and the listener kept the connection
for good. Each certificate of :func:`tests.crafted.crafted_certificates` is read here by
everything that reads a peer's certificate, with warnings turned into errors (a warning is
a line on the server's stderr too).
"""

from __future__ import annotations

import datetime as dt
import warnings

import pytest
from cryptography import x509
from OpenSSL import crypto

from fakepeer.tls import der, identity
from fakepeer.tls.inspect import (
    Unreadable,
    extended_key_usages,
    load_peer_certificate,
    read_extensions,
    subject_text,
    summarize_certificate,
    validate_client_chain,
)
from fakepeer.tls.observation import TlsObservation
from tests.crafted import COMMON_NAME, HOST, Crafted, crafted_certificates, name

NOW = dt.datetime.now(dt.UTC)
TABLE = crafted_certificates()
LOADABLE = [c for c in TABLE if c.loads]


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _openssl(crafted: Crafted) -> crypto.X509:
    return crypto.load_certificate(crypto.FILETYPE_ASN1, crafted.der)


@pytest.mark.parametrize("crafted", TABLE, ids=[c.name for c in TABLE])
def test_openssl_reads_it_so_an_sbc_can_send_it(crafted):
    """Each crafted certificate gets past OpenSSL's parser: fakepeer will meet it."""
    assert _openssl(crafted).get_serial_number() is not None


@pytest.mark.parametrize("crafted", LOADABLE, ids=[c.name for c in LOADABLE])
def test_the_summary_names_what_is_broken_and_keeps_the_rest(crafted):
    """summarize_certificate never raises; its problems say what could not be read."""
    summary = summarize_certificate(load_peer_certificate(crafted.der))
    assert any(crafted.reported in problem for problem in summary.problems), summary.problems
    assert len(summary.subject) < 600
    assert summary.not_after > NOW
    assert len(summary.sha256) == 64


@pytest.mark.parametrize("crafted", LOADABLE, ids=[c.name for c in LOADABLE])
def test_chain_validation_reports_instead_of_raising(crafted):
    """validate_client_chain lists an Unreadable problem (so the chain is refused) or,
    for the parseable defects, still answers with problems."""
    cert = load_peer_certificate(crafted.der)
    problems = validate_client_chain(cert, [], [cert], NOW)
    assert problems
    if "critical" not in crafted.reported:
        assert any(isinstance(p, Unreadable) and crafted.reported in p.message
                   for p in problems), [p.message for p in problems]


@pytest.mark.parametrize("crafted", LOADABLE, ids=[c.name for c in LOADABLE])
def test_names_and_matching_never_raise(crafted):
    """The SIP layer's view of the certificate (names, host match) is what can be read."""
    cert = load_peer_certificate(crafted.der)
    dns, ips = identity.certificate_names(cert)
    assert isinstance(dns, tuple) and isinstance(ips, tuple)
    assert isinstance(identity.certificate_matches(cert, HOST), bool)
    assert isinstance(subject_text(cert), str)
    extended_key_usages(cert)


def test_one_broken_extension_does_not_hide_the_others():
    """A broken EKU beside a good SAN: the SAN's names survive, the EKU is named."""
    [crafted] = [c for c in TABLE if c.name == "eku-broken-beside-a-good-san"]
    cert = load_peer_certificate(crafted.der)
    with pytest.raises(ValueError):
        _ = cert.extensions  # cryptography's all-or-nothing reading, the cause
    extensions = read_extensions(cert)
    assert extensions.value(x509.SubjectAlternativeName) is not None
    assert extensions.value(x509.ExtendedKeyUsage) is None
    assert identity.certificate_names(cert)[0] == (HOST,)
    assert identity.certificate_matches(cert, HOST)


def test_a_duplicated_extension_is_not_used_at_all():
    """Two SANs: neither is believed (which one would the issuer have meant?)."""
    [crafted] = [c for c in TABLE if c.name == "duplicate-san"]
    cert = load_peer_certificate(crafted.der)
    assert read_extensions(cert).value(x509.SubjectAlternativeName) is None
    assert "b.example" not in identity.certificate_names(cert)[0]


@pytest.mark.parametrize("crafted", [c for c in TABLE if not c.loads],
                         ids=[c.name for c in TABLE if not c.loads])
def test_a_certificate_cryptography_refuses_is_recorded_as_unreadable(crafted):
    """The observation keeps OpenSSL's certificate as unreadable, named from its DER."""
    observation = TlsObservation("server")
    assert observation.read_certificate(_openssl(crafted), 0) is None
    observation.record_verify_error(18, 0, None)
    [unreadable] = observation.unreadable_certificates
    assert crafted.reported in unreadable.line()
    assert unreadable.subject.startswith("CN=evil")
    assert observation.verify_errors[0].subject == unreadable.subject


def test_an_unreadable_leaf_leaves_no_peer_chain_but_a_record():
    """A chain whose leaf cryptography cannot load has no leaf to put first: it is
    empty, and the leaf is recorded as unreadable; a readable leaf keeps its place."""
    unreadable = next(c for c in TABLE if not c.loads)
    readable = next(c for c in TABLE if c.loads)
    observation = TlsObservation("server")
    observation.record_peer_chain([_openssl(unreadable), _openssl(readable)])
    assert observation.peer_certificates == ()
    assert observation.peer_leaf is None
    assert [u.depth for u in observation.unreadable_certificates] == [0]
    observation = TlsObservation("server")
    observation.record_peer_chain([_openssl(readable), _openssl(unreadable)])
    assert len(observation.peer_certificates) == 1
    assert [u.depth for u in observation.unreadable_certificates] == [1]


def test_raw_name_text_reads_any_string_type():
    """The raw reader shows what cryptography refuses: 8-bit IA5, non-string values."""
    encoded = name(("2.5.4.10", 0x0C, b"lab"), (COMMON_NAME, 0x16, b"ev\xe9l"))
    assert der.name_text(encoded) == "CN=ev\\xe9l,O=lab"
    with pytest.raises(der.DerError):
        der.name_text(encoded[:-3])
