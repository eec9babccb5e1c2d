"""Key types, key generation (in parallel) and the checks the store needs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PublicKeyTypes,
)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "P-256": ec.SECP256R1,
    "P-384": ec.SECP384R1,
    "P-521": ec.SECP521R1,
}


@dataclass(frozen=True, slots=True)
class KeySpec:
    """A key type as certificate screens describe it: ``RSA 4096`` or ``EC P-384``."""

    algorithm: Literal["RSA", "EC"]
    size: int  # RSA modulus bits, or the curve's bits for EC

    def __post_init__(self) -> None:
        if self.algorithm == "RSA" and self.size not in (1024, 2048, 3072, 4096):
            raise ValueError(f"RSA key size {self.size} is not one fakepeer mirrors")
        if self.algorithm == "EC" and self.curve_name not in _CURVES:
            raise ValueError(f"EC key size {self.size} has no NIST curve")

    @property
    def curve_name(self) -> str:
        return f"P-{self.size}"

    def __str__(self) -> str:
        return f"RSA {self.size}" if self.algorithm == "RSA" else f"EC {self.curve_name}"

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        """Read ``rsa2048``, ``RSA 4096``, ``ec-p256`` or ``EC P-384``."""
        cleaned = text.strip().upper().replace(" ", "").replace("-", "")
        if cleaned.startswith("RSA") and cleaned[3:].isdigit():
            return cls("RSA", int(cleaned[3:]))
        if cleaned.startswith("ECP") and cleaned[3:].isdigit():
            return cls("EC", int(cleaned[3:]))
        raise ValueError(f"unknown key type {text!r} (use rsa2048, rsa4096, ec-p256, ec-p384)")

    def generate(self) -> PrivateKey:
        if self.algorithm == "RSA":
            return rsa.generate_private_key(public_exponent=65537, key_size=self.size)
        return ec.generate_private_key(_CURVES[self.curve_name]())

    def matches(self, key: PublicKeyTypes | CertificateIssuerPrivateKeyTypes) -> bool:
        return key_spec_of(key) == self


def key_spec_of(key: PublicKeyTypes | CertificateIssuerPrivateKeyTypes) -> KeySpec | None:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return KeySpec("RSA", key.key_size)
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return KeySpec("EC", key.curve.key_size)
    return None


def generate_many(
    specs: Mapping[str, KeySpec], workers: int | None = None
) -> dict[str, PrivateKey]:
    """Generate keys concurrently: OpenSSL releases the GIL while it searches for primes,
    and RSA-4096 generation dominates a cold start (about a second per key here)."""
    if not specs:
        return {}
    workers = workers or max(1, min(len(specs), os.cpu_count() or 1))
    # Largest first, so the slowest keys do not start last.
    order = sorted(specs, key=lambda n: -specs[n].size if specs[n].algorithm == "RSA" else 0)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="keygen") as pool:
        futures = {name: pool.submit(specs[name].generate) for name in order}
        return {name: future.result() for name, future in futures.items()}


def private_key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key_pem(data: bytes) -> PrivateKey:
    """Load a key fakepeer wrote itself. RSA consistency checks are skipped: they cost
    about 0.1 s per RSA-4096 key (most of a warm start), and the store checks every key
    against its certificate's public key anyway."""
    key = serialization.load_pem_private_key(data, password=None,
                                             unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    return key


def public_keys_equal(a: PublicKeyTypes, b: PublicKeyTypes) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(serialization.Encoding.DER, fmt) == b.public_bytes(
        serialization.Encoding.DER, fmt
    )


SignatureHash = hashes.SHA256 | hashes.SHA384 | hashes.SHA512


def hash_algorithm(name: str) -> SignatureHash:
    """``sha256``/``sha384``/``sha512``; SHA-1 is produced elsewhere (see ``sha1.py``)."""
    table: dict[str, SignatureHash] = {
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown signature hash {name!r} (use one of {sorted(table)})") from None
