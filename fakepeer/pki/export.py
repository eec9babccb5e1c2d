"""Certificates in the forms SBCs and operators import: PEM, DER, PKCS#12, hashed CA
folders, a Cisco IOS trustpoint snippet and an AudioCodes bundle; plus the identifiers
(thumbprints, OpenSSL subject hash) that trust-store screens show."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from fakepeer.pki.keys import PrivateKey, key_spec_of

# -- identifiers ---------------------------------------------------------------------------


def thumbprint(certificate: x509.Certificate, algorithm: str = "sha1") -> str:
    """Upper-case hex without separators, as Windows' certificate dialog shows it."""
    digest = hashes.SHA1() if algorithm == "sha1" else hashes.SHA256()  # noqa: S303
    return certificate.fingerprint(digest).hex().upper()


def colon_thumbprint(certificate: x509.Certificate, algorithm: str = "sha1") -> str:
    """``AB:CD:...`` as SBC web screens and ``openssl x509 -fingerprint`` show it."""
    plain = thumbprint(certificate, algorithm)
    return ":".join(plain[i:i + 2] for i in range(0, len(plain), 2))


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


def _canonical_value(value: str) -> str:
    # OpenSSL's x509_name_canon: trim, collapse internal white space, ASCII lower-case.
    collapsed = re.sub(r"[ \t\n\r\f\v]+", " ", value.strip(" \t\n\r\f\v"))
    return "".join(c.lower() if c.isascii() else c for c in collapsed)


def subject_hash(name: x509.Name) -> str:
    """OpenSSL's ``X509_NAME_hash`` (``openssl x509 -hash``): the file name of a CA in a
    hashed directory, ``<hash>.0``. Computed from the canonical DER of the name."""
    encoded = b""
    for rdn in name.rdns:
        avas = b""
        for attribute in rdn:
            oid_der = _encode_oid(attribute.oid.dotted_string)
            value = attribute.value if isinstance(attribute.value, str) else attribute.value.hex()
            avas += _tlv(0x30, oid_der + _tlv(0x0C, _canonical_value(value).encode()))
        encoded += _tlv(0x31, avas)
    digest = hashlib.sha1(encoded).digest()  # noqa: S324 - OpenSSL's own choice
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def _encode_oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body += bytes(reversed(chunk))
    return _tlv(0x06, body)


def describe_key(certificate: x509.Certificate) -> str:
    spec = key_spec_of(certificate.public_key())
    return str(spec) if spec else type(certificate.public_key()).__name__


def openssl_oneline(name: x509.Name) -> str:
    """``C = US, O = DigiCert Inc, CN = ...`` as OpenSSL 3 prints names."""
    short = {"countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
             "organizationName": "O", "organizationalUnitName": "OU", "commonName": "CN"}
    parts = []
    for attribute in name:
        label = short.get(attribute.oid._name, attribute.oid._name)
        value = str(attribute.value)
        if any(c in value for c in ',+"\\<>;'):
            value = '"' + value.replace('"', '\\"') + '"'
        parts.append(f"{label} = {value}")
    return ", ".join(parts)


def _signature_name(certificate: x509.Certificate) -> str:
    hash_name = certificate.signature_hash_algorithm.name.upper().replace("SHA", "SHA") \
        if certificate.signature_hash_algorithm else "?"
    algorithm = "RSA" if "RSA" in certificate.signature_algorithm_oid._name.upper() else "ECDSA"
    return f"{algorithm}-{hash_name}"


def _openssl_time(when: object) -> str:
    return when.strftime("%b %e %H:%M:%S %Y GMT")  # type: ignore[attr-defined]


def s_client_chain(certificates: Sequence[x509.Certificate]) -> list[str]:
    """The ``Certificate chain`` block of ``openssl s_client``, depth by depth."""
    lines = ["Certificate chain"]
    for depth, certificate in enumerate(certificates):
        spec = key_spec_of(certificate.public_key())
        kind = "rsaEncryption" if spec and spec.algorithm == "RSA" else "id-ecPublicKey"
        lines += [
            f" {depth} s:{openssl_oneline(certificate.subject)}",
            f"   i:{openssl_oneline(certificate.issuer)}",
            f"   a:PKEY: {kind}, {spec.size if spec else '?'} (bit); "
            f"sigalg: {_signature_name(certificate)}",
            f"   v:NotBefore: {_openssl_time(certificate.not_valid_before_utc)}; "
            f"NotAfter: {_openssl_time(certificate.not_valid_after_utc)}",
        ]
    return lines


# -- encodings -----------------------------------------------------------------------------


def pem(certificates: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def p12(name: str, certificate: x509.Certificate, key: PrivateKey | None,
        chain: Sequence[x509.Certificate], password: bytes | None = None) -> bytes:
    """PKCS#12 with the chain; without a password, as SBC import dialogs accept it.
    Encrypted with AES when a password is given (the legacy RC2 form is not offered)."""
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    return pkcs12.serialize_key_and_certificates(
        name.encode(), key, certificate, list(chain) or None, encryption
    )


def write_hashed_folder(folder: Path, certificates: Sequence[x509.Certificate],
                        names: Sequence[str]) -> list[Path]:
    """Write each CA as ``<id>.pem`` plus an OpenSSL ``<hash>.N`` link, N counting up where
    two names hash alike (a mirror with the exact real name and the real root do)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for certificate, name in zip(certificates, names, strict=True):
        target = folder / f"{name}.pem"
        target.write_bytes(pem([certificate]))
        written.append(target)
        base = subject_hash(certificate.subject)
        for n in range(100):
            link = folder / f"{base}.{n}"
            if link.is_symlink() and link.resolve() == target.resolve():
                break
            if not link.exists() and not link.is_symlink():
                link.symlink_to(target.name)
                written.append(link)
                break
    return written


# -- device-friendly text ------------------------------------------------------------------


def cisco_trustpoint(trustpoint: str, certificate: x509.Certificate) -> tuple[str, list[str]]:
    """A Cisco IOS ``crypto pki`` snippet to paste, and warnings.

    IOS ends a pasted certificate at a line starting with ``quit`` in any case; a PEM
    line that does so (line 29 of the real DigiCert TLS RSA4096 Root G5 starts ``qUIT``)
    truncates the import, so the snippet must be loaded by TFTP/SCP instead.
    """
    body = pem([certificate]).decode().strip().splitlines()
    warnings = [
        f"PEM line {i} begins with {line[:4]!r}: IOS reads it as the end of the paste. "
        "Copy the file by TFTP/SCP and use `crypto pki import` or `enrollment terminal` "
        "with the file instead."
        for i, line in enumerate(body, start=1)
        if line[:4].lower() == "quit"
    ]
    snippet = "\n".join([
        f"crypto pki trustpoint {trustpoint}",
        " enrollment terminal",
        " revocation-check none",
        " exit",
        f"crypto pki authenticate {trustpoint}",
        *body,
        "quit",
        "",
    ])
    return snippet, warnings


def audiocodes_bundle(certificates: Sequence[x509.Certificate], names: Sequence[str]) -> bytes:
    """One PEM file of trusted roots with a comment line naming each, as AudioCodes'
    "Import Trusted Root Certificates" accepts; LF line endings, no key material."""
    out = []
    for certificate, name in zip(certificates, names, strict=True):
        out.append(f"# {name}: {openssl_oneline(certificate.subject)}\n"
                   f"# SHA-1 {colon_thumbprint(certificate)}\n".encode())
        out.append(pem([certificate]))
    return b"".join(out)
