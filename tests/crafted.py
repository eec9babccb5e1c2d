"""Crafted client certificates, each broken in one way, built from raw DER.

cryptography refuses to build most of these, so the TBSCertificate is written here TLV by
TLV and signed with a real key (RSA 2048, SHA-256), which makes every certificate whose
public key is that key one a TLS client can really present (``owns_key``). The others (a
1-bit RSA modulus, an unknown key type, an unknown signature algorithm OpenSSL will not
load as a client's own) reach the server with the client's Certificate message swapped
on the wire: :func:`swapped_certificate_handshake`.

``reported`` is the text fakepeer's report must contain for it; ``loads`` says whether
cryptography loads the certificate at all (when not, fakepeer can only name the
certificate as unreadable, from the raw DER).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import socket
import time
from dataclasses import dataclass
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from fakepeer.pki.export import _encode_oid as oid
from fakepeer.tls.der import encode as tlv

SAN = "2.5.29.17"
EKU = "2.5.29.37"
BASIC_CONSTRAINTS = "2.5.29.19"
COMMON_NAME = "2.5.4.3"
HOST = "evil.lab.example"


# --- DER, written by hand (with fakepeer's two encoders) ----------------------------


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def integer(value: int) -> bytes:
    octets = (value.bit_length() + 8) // 8 if value >= 0 else ((-value - 1).bit_length() + 8) // 8
    return tlv(0x02, value.to_bytes(max(octets, 1), "big", signed=True))


def name(*attributes: tuple[str, int, bytes]) -> bytes:
    """A Name, one RDN per (attribute OID, string tag, raw value)."""
    return seq(*(tlv(0x31, seq(oid(o), tlv(tag, value))) for o, tag, value in attributes))


def utc_time(when: dt.datetime) -> bytes:
    return tlv(0x17, when.strftime("%y%m%d%H%M%SZ").encode())


def extension(dotted: str, value: bytes, critical: bool = False) -> bytes:
    flag = tlv(0x01, b"\xff") if critical else b""
    return seq(oid(dotted), flag, tlv(0x04, value))


def dns_san(*names: str) -> bytes:
    return extension(SAN, seq(*(tlv(0x82, n.encode()) for n in names)))


@cache
def key() -> rsa.RSAPrivateKey:
    """The key that signs every crafted certificate (and presents the owned ones): RSA,
    as the Microsoft profile's ECDHE-RSA suites need on both sides."""
    return rsa.generate_private_key(65537, 2048)


def _spki() -> bytes:
    return key().public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)


RSA_SHA256 = seq(oid("1.2.840.113549.1.1.11"), tlv(0x05, b""))
GOOD_NAME = name((COMMON_NAME, 0x0C, HOST.encode()))


def certificate(*, version: bytes | None = None, serial: bytes | None = None,
                signature: bytes = RSA_SHA256, issuer: bytes = GOOD_NAME,
                validity: bytes | None = None, subject: bytes = GOOD_NAME,
                spki: bytes | None = None, extensions: tuple[bytes, ...] = (dns_san(HOST),)
                ) -> bytes:
    """A self-issued certificate from raw parts; each default is a sound value."""
    now = dt.datetime.now(dt.UTC)
    tbs = seq(
        tlv(0xA0, version if version is not None else integer(2)),
        serial if serial is not None else integer(0x4900ABCDEF),
        signature, issuer,
        validity if validity is not None else seq(utc_time(now - dt.timedelta(days=1)),
                                                  utc_time(now + dt.timedelta(days=30))),
        subject,
        spki if spki is not None else _spki(),
        tlv(0xA3, seq(*extensions)) if extensions else b"",
    )
    signed = key().sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    return seq(tbs, signature, tlv(0x03, b"\x00" + signed))


@dataclass(frozen=True)
class Crafted:
    """One crafted certificate and what fakepeer must say about it."""

    name: str
    der: bytes
    reported: str
    owns_key: bool = True
    loads: bool = True

    @property
    def pem(self) -> bytes:
        return pem(self.der)


def pem(der: bytes) -> bytes:
    """PEM armour written here: OpenSSL's own writer would re-encode the certificate."""
    text = base64.b64encode(der)
    lines = b"\n".join(text[i:i + 64] for i in range(0, len(text), 64))
    return b"-----BEGIN CERTIFICATE-----\n" + lines + b"\n-----END CERTIFICATE-----\n"


def crafted_certificates() -> list[Crafted]:
    """The table: every certificate OpenSSL accepts in a handshake, each broken once."""
    now = dt.datetime.now(dt.UTC)
    one_bit_rsa = seq(seq(oid("1.2.840.113549.1.1.1"), tlv(0x05, b"")),
                      tlv(0x03, b"\x00" + seq(integer(1), integer(65537))))
    return [
        Crafted("san-inner-encoding-broken",
                certificate(extensions=(extension(SAN, b"\x30\x05\x82\x07ab"),)),
                "unparseable extension subjectAltName (2.5.29.17)"),
        Crafted("san-ip-of-five-bytes",
                certificate(extensions=(extension(SAN, seq(tlv(0x87, b"\1\2\3\4\5"))),)),
                "unparseable extension subjectAltName (2.5.29.17)"),
        Crafted("duplicate-san", certificate(extensions=(dns_san(HOST), dns_san("b.example"))),
                "duplicate extension subjectAltName (2.5.29.17): 2 copies"),
        Crafted("eku-broken-beside-a-good-san",
                certificate(extensions=(dns_san(HOST), extension(EKU, b"\x30\x03\x06\x01"))),
                "unparseable extension extendedKeyUsage (2.5.29.37)"),
        Crafted("basic-constraints-broken",
                certificate(extensions=(extension(BASIC_CONSTRAINTS, b"\x30\x03\x01\x01\x02"),)),
                "unparseable extension basicConstraints (2.5.29.19)"),
        Crafted("unknown-critical-extension",
                certificate(extensions=(dns_san(HOST),
                                        extension("1.3.6.1.4.1.99999.1", b"\5\0", True))),
                "unknown critical extension 1.3.6.1.4.1.99999.1"),
        Crafted("common-name-of-20000-characters",
                certificate(subject=name((COMMON_NAME, 0x0C, b"a" * 20000))),
                "subject is 20003 characters long"),
        Crafted("negative-serial", certificate(serial=integer(-5)),
                "serial number -5 is not positive"),
        Crafted("serial-of-51-octets", certificate(serial=integer(2**400)),
                "serial number is 51 octets long"),
        Crafted("ia5string-with-8-bit-bytes",
                certificate(subject=name((COMMON_NAME, 0x16, b"\xe9vil.lab.example"))),
                "unparseable subject"),
        Crafted("name-value-not-a-string",
                certificate(subject=seq(tlv(0x31, seq(oid(COMMON_NAME), seq(integer(1)))))),
                "unparseable subject"),
        Crafted("empty-relative-distinguished-name",
                certificate(subject=seq(tlv(0x31, b""))), "unparseable subject"),
        # OpenSSL will not load it as a client's own certificate ("ca md too weak").
        Crafted("unknown-signature-algorithm", certificate(signature=seq(oid("1.2.3.4.5"))),
                "unknown signature algorithm 1.2.3.4.5", owns_key=False),
        Crafted("version-4", certificate(version=integer(3)),
                "cannot be read: 3 is not a valid X509 version", loads=False),
        Crafted("date-cryptography-cannot-read",
                certificate(validity=seq(tlv(0x17, b"991332999999Z"), utc_time(now))),
                "cannot be read: error parsing asn1 value", loads=False),
        Crafted("printablestring-with-at-sign",
                certificate(subject=name((COMMON_NAME, 0x13, b"evil@lab"))),
                "cannot be read: error parsing asn1 value", loads=False),
        Crafted("rsa-key-of-one-bit", certificate(spki=one_bit_rsa),
                "unreadable public key: n must be >= 3", owns_key=False),
        Crafted("unknown-key-algorithm",
                certificate(spki=seq(seq(oid("1.2.3.4.99")), tlv(0x03, b"\0\1\2"))),
                "unreadable public key: Unknown key type", owns_key=False),
    ]


def good_certificate_der() -> bytes:
    """A sound self-signed certificate for :func:`key`, made by cryptography."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    built = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
             .public_key(key().public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(days=1))
             .not_valid_after(now + dt.timedelta(days=30))
             .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), False)
             .sign(key(), hashes.SHA256()))
    return built.public_bytes(serialization.Encoding.DER)


def key_pem() -> bytes:
    return key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())


# --- a client whose Certificate message is swapped on the wire -------------------------

_HANDSHAKE = 22
_CHANGE_CIPHER_SPEC = 20
_CERTIFICATE = 11


def _swap_certificate(flight: bytes, certificate_der: bytes) -> bytes:
    """``flight`` (TLS 1.2 records) with the Certificate message's list replaced by
    ``certificate_der`` alone; records after ChangeCipherSpec are left as they are."""
    out = b""
    position = 0
    encrypted = False
    while position + 5 <= len(flight):
        kind, version, size = flight[position], flight[position + 1:position + 3], \
            int.from_bytes(flight[position + 3:position + 5], "big")
        body = flight[position + 5:position + 5 + size]
        position += 5 + size
        if kind == _CHANGE_CIPHER_SPEC:
            encrypted = True
        if kind == _HANDSHAKE and not encrypted:
            body = _swap_in_messages(body, certificate_der)
        out += bytes([kind]) + version + len(body).to_bytes(2, "big") + body
    return out + flight[position:]


def _swap_in_messages(body: bytes, certificate_der: bytes) -> bytes:
    out = b""
    position = 0
    while position + 4 <= len(body):
        kind = body[position]
        size = int.from_bytes(body[position + 1:position + 4], "big")
        message = body[position + 4:position + 4 + size]
        position += 4 + size
        if kind == _CERTIFICATE:
            entry = len(certificate_der).to_bytes(3, "big") + certificate_der
            message = len(entry).to_bytes(3, "big") + entry
        out += bytes([kind]) + len(message).to_bytes(3, "big") + message
    return out + body[position:]


def swapped_certificate_handshake(port: int, certificate_der: bytes,
                                  timeout: float = 10.0,
                                  sock: socket.socket | None = None) -> str:
    """A pyOpenSSL TLS 1.2 client on 127.0.0.1:``port`` (or on ``sock``, connected by a
    caller that wants to know its local port) that presents ``certificate_der`` in place
    of its own certificate (which the server then cannot see it sign for); returns how
    the handshake ended."""
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_max_proto_version(SSL.TLS1_2_VERSION)
    context.use_certificate(x509.load_der_x509_certificate(good_certificate_der()))
    context.use_privatekey(key())
    tls = SSL.Connection(context, None)
    tls.set_connect_state()
    deadline = time.monotonic() + timeout
    connected = contextlib.nullcontext(sock) if sock is not None else \
        socket.create_connection(("127.0.0.1", port), timeout=timeout)
    with connected as sock:
        while time.monotonic() < deadline:
            try:
                tls.do_handshake()
                return "completed"
            except SSL.WantReadError:
                pass
            except SSL.Error as exc:
                return f"failed: {exc}"
            flight = b""
            while True:
                try:
                    flight += tls.bio_read(65536)
                except SSL.WantReadError:
                    break
            if flight:
                sock.sendall(_swap_certificate(flight, certificate_der))
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                return "connection reset"
            if not data:
                return "closed by the server"
            tls.bio_write(data)
    return "timed out"
