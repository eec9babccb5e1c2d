"""Certificates in the forms SBCs and operators import: PEM files and bundles, DER,
PKCS#7, PKCS#12, hashed CA folders (``ca_path``), a Cisco IOS trustpoint snippet and an
AudioCodes bundle; plus the identifiers (thumbprints, OpenSSL subject hash) that trust-store
screens show, written into every text format so the person importing can compare them."""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from fakepeer.pki.files import PUBLIC_FILE, atomic_write
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


def ios_fingerprint(certificate: x509.Certificate, algorithm: str) -> str:
    """``5FB7EE06 33E259DB ...``: groups of eight upper-case hex digits, as Cisco IOS prints
    ``Fingerprint MD5:`` and ``Fingerprint SHA1:`` before it asks to accept a CA [S]."""
    digest = hashes.MD5() if algorithm == "md5" else hashes.SHA1()  # noqa: S303 - IOS shows them
    plain = certificate.fingerprint(digest).hex().upper()
    return " ".join(plain[i:i + 8] for i in range(0, len(plain), 8))


def fingerprint_comments(name: str, certificate: x509.Certificate, marker: str = "#") -> str:
    """Comment lines naming a certificate and giving its SHA-1 and SHA-256 fingerprints as
    ``openssl x509 -fingerprint`` and SBC web screens show them. PEM readers skip text
    outside the BEGIN/END lines, so these can precede each certificate in a PEM file."""
    return (f"{marker} {name}: {openssl_oneline(certificate.subject)}\n"
            f"{marker} SHA-1   {colon_thumbprint(certificate, 'sha1')}\n"
            f"{marker} SHA-256 {colon_thumbprint(certificate, 'sha256')}\n")


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


def _openssl_time(when: datetime) -> str:
    return when.strftime("%b %e %H:%M:%S %Y GMT")


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


def pem_bundle(certificates: Sequence[x509.Certificate], names: Sequence[str]) -> bytes:
    """One PEM file, each certificate after its name and fingerprints: what a Kamailio or
    OpenSIPS ``ca_list``, an OpenSSL ``-CAfile`` or a Linux CA bundle reads."""
    return b"".join(fingerprint_comments(name, certificate).encode() + pem([certificate])
                    for certificate, name in zip(certificates, names, strict=True))


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def pkcs7_bundle(certificates: Sequence[x509.Certificate]) -> bytes:
    """Several certificates in one binary file (PKCS#7, DER, ``.p7b``): what Windows,
    Cisco CUCM and Java's keytool import where one DER file holds only one certificate."""
    return pkcs7.serialize_certificates(list(certificates), serialization.Encoding.DER)


def p12(name: str, certificate: x509.Certificate | None, key: PrivateKey | None,
        chain: Sequence[x509.Certificate], password: bytes | None = None) -> bytes:
    """PKCS#12 with the chain (or, without certificate and key, a trust store of ``chain``);
    without a password, as SBC import dialogs accept it. Encrypted with AES-256 when a
    password is given (the legacy RC2/3DES form is not offered)."""
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    return pkcs12.serialize_key_and_certificates(
        name.encode(), key, certificate, list(chain) or None, encryption
    )


@dataclass(frozen=True, slots=True)
class Written:
    """A file an export wrote (or a link it made), for the line that tells the user."""

    path: Path
    mode: int | None  # None for a symbolic link
    what: str


#: OpenSSL's hashed-folder link names: ``<8 hex digits>.<N>`` (CRLs use ``.rN``).
_HASH_LINK = re.compile(r"^[0-9a-f]{8}\.\d+$")


def write_hashed_folder(folder: Path, certificates: Sequence[x509.Certificate],
                        names: Sequence[str]) -> list[Written]:
    """Write each CA as ``<id>.pem`` (with its fingerprints) into ``folder``, then bring
    the folder's ``<hash>.N`` links up to date as ``openssl rehash`` would, for every file
    in it that holds exactly one certificate: a folder exported into twice (the 2023 roots,
    then the 2026 ones) trusts both, and a link never points at a file that is gone. N
    counts up where two names hash alike (a mirror with the exact real name and the real
    root do). The folder is what Kamailio and OpenSIPS call ``ca_path``."""
    written = []
    for certificate, name in zip(certificates, names, strict=True):
        target = folder / f"{name}.pem"
        atomic_write(target, fingerprint_comments(name, certificate).encode()
                     + pem([certificate]), PUBLIC_FILE)
        written.append(Written(target, PUBLIC_FILE, f"certificate {name}"))
    return written + rehash(folder)


def rehash(folder: Path) -> list[Written]:
    """Make ``folder``'s OpenSSL hash links match the certificates in it (new links are
    returned); only symbolic links with hash-link names are ever removed."""
    wanted: dict[str, str] = {}
    seen: dict[str, set[bytes]] = {}
    for path in sorted(folder.iterdir()):
        if _HASH_LINK.match(path.name) or not path.is_file():
            continue
        with contextlib.suppress(ValueError, OSError):
            found = x509.load_pem_x509_certificates(path.read_bytes())
            if len(found) != 1:
                continue  # a bundle: openssl rehash skips it too
            base = subject_hash(found[0].subject)
            fingerprint = found[0].fingerprint(hashes.SHA256())
            if fingerprint in seen.setdefault(base, set()):
                continue  # the same certificate twice: one link
            seen[base].add(fingerprint)
            wanted[f"{base}.{len(seen[base]) - 1}"] = path.name
    made = []
    for link in folder.iterdir():
        if _HASH_LINK.match(link.name) and link.is_symlink():
            if wanted.get(link.name) == str(link.readlink()):
                del wanted[link.name]
            else:
                link.unlink()
    for name, target in sorted(wanted.items()):
        link = folder / name
        if link.exists() or link.is_symlink():
            continue  # a file of the user's under a link name: not ours to replace
        link.symlink_to(target)
        made.append(Written(link, None, f"link to {target}"))
    return made


# -- device-friendly text ------------------------------------------------------------------


def cisco_trustpoint(trustpoint: str, certificate: x509.Certificate) -> tuple[str, list[str]]:
    """A Cisco IOS ``crypto pki`` snippet to paste, and warnings.

    After the pasted certificate IOS prints its MD5 and SHA-1 fingerprints and asks
    ``% Do you accept this certificate? [yes/no]:``; the snippet opens with ``!`` comment
    lines (ignored by the configuration parser) giving the fingerprints to compare, in the
    layout IOS uses, and saying to answer yes only if they match.

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
        f"! {trustpoint}: {openssl_oneline(certificate.subject)}",
        "! After `quit` IOS shows the certificate's fingerprints and asks",
        "!   % Do you accept this certificate? [yes/no]:",
        "! Answer yes only if they are these:",
        f"!   Fingerprint MD5:  {ios_fingerprint(certificate, 'md5')}",
        f"!   Fingerprint SHA1: {ios_fingerprint(certificate, 'sha1')}",
        f"! (SHA-256 {colon_thumbprint(certificate, 'sha256')})",
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
    return pem_bundle(certificates, names)
