"""Key types, key generation (in parallel, slowest first) and the checks the store needs."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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


def spec_of(key: PrivateKey) -> KeySpec:
    """The type of a key fakepeer made (always RSA or EC)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return KeySpec("RSA", key.key_size)
    return KeySpec("EC", key.curve.key_size)


# -- generation ----------------------------------------------------------------------------


def usable_cores() -> int:
    """The CPUs this process may run on: a container or ``taskset`` may allow fewer than
    the machine has, and one core must work as well as many."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def generation_cost(spec: KeySpec) -> float:
    """Rough generation time in RSA 1024 units: RSA grows with about the 4th power of the
    size (RSA 4096 about a second here, RSA 2048 about 0.1 s); EC keys are instant."""
    return (spec.size / 1024) ** 4 if spec.algorithm == "RSA" else 0.0


def slowest_first(specs: Mapping[str, KeySpec]) -> list[str]:
    return sorted(specs, key=lambda name: -generation_cost(specs[name]))


def generate_keys(specs: Mapping[str, KeySpec], on_ready: Callable[[str, PrivateKey], object],
                  *, workers: int | None = None, spare: KeySpec | None = None,
                  spares: int = 0, on_spare: Callable[[PrivateKey], object] | None = None,
                  ) -> None:
    """Generate ``specs`` on worker threads, slowest first, calling ``on_ready`` in the
    caller's thread as each key arrives, so that the caller signs with one key while the
    others are still being searched for.

    Threads, not processes: OpenSSL releases the GIL during the prime search (two threads
    make two RSA 4096 keys in the time of one here), and threads need no start-up,
    pickling or fork-safety care. At the end one worker would idle while the last slow key
    finishes: up to ``spares`` keys of type ``spare`` are made then, and handed to
    ``on_spare`` (the store's pool), so the idle core does work a later step needs.
    """
    if not specs:
        return
    workers = workers or min(len(specs) + spares, usable_cores())
    queue = slowest_first(specs)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="keygen") as pool:
        wanted: dict[Future[PrivateKey], str] = {}
        extra: set[Future[PrivateKey]] = set()
        while queue or wanted:
            while queue and len(wanted) + len(extra) < workers:
                name = queue.pop(0)
                wanted[pool.submit(specs[name].generate)] = name
            while (spare is not None and on_spare is not None and spares > 0 and wanted
                   and not queue and len(wanted) + len(extra) < workers):
                extra.add(pool.submit(spare.generate))
                spares -= 1
            done, _ = wait([*wanted, *extra], return_when=FIRST_COMPLETED)
            for future in done:
                if future in extra:
                    extra.discard(future)
                    if on_spare is not None:
                        on_spare(future.result())
                else:
                    on_ready(wanted.pop(future), future.result())
        for future in extra:  # started while a wanted key was still being made
            if on_spare is not None:
                on_spare(future.result())


def generate_many(
    specs: Mapping[str, KeySpec], workers: int | None = None
) -> dict[str, PrivateKey]:
    """Generate keys concurrently (see :func:`generate_keys`); RSA 4096 generation
    dominates a cold start (about a second per key here)."""
    made: dict[str, PrivateKey] = {}
    generate_keys(specs, made.__setitem__, workers=workers)
    return {name: made[name] for name in specs}


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
