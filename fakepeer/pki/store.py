"""The ``certs/`` folder: every key and certificate, written once and reused.

Layout::

    certs/.lock                      held while a process reads or generates
    certs/keys/<key-id>.key.pem      private keys, mode 0600, shared by every variant
    certs/<variant>/<cert-id>.pem    certificates ("lab", "real-names", "...-real-dates")
    certs/<variant>/<cert-id>.json   what the certificate was made from (written last)

Every write goes to a temporary file in the same folder and is renamed into place, so a
generation killed at any moment leaves either the old file or the new one. A certificate
counts only once its ``.json`` exists and describes it; anything else is regenerated.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from fakepeer.errors import StoreError
from fakepeer.pki.keys import PrivateKey, load_private_key_pem, private_key_pem, public_keys_equal

STORE_README = """\
# certs/

fakepeer's certificate store: throwaway keys and certificates made by `fakepeer certs
generate` and `fakepeer serve`. Nothing here is a real CA. Delete a file (or the whole
folder) and the next run regenerates what it needs.
"""


@dataclass(frozen=True, slots=True)
class StoredCertificate:
    certificate: x509.Certificate
    meta: dict[str, Any]
    path: Path


class CertStore:
    """Reads and writes the store; knows files, not hierarchies."""

    def __init__(self, root: Path, variant: str) -> None:
        self.root = root
        self.variant = variant
        self.keys_dir = root / "keys"
        self.certs_dir = root / variant
        self._lock_depth = 0
        self._lock_file: int | None = None

    # -- locking -----------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock, so two fakepeer processes never generate the same file
        at once (the second waits, then finds everything made)."""
        if self._lock_depth == 0:
            self._prepare()
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._lock_file = fd
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0 and self._lock_file is not None:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
                os.close(self._lock_file)
                self._lock_file = None

    def _prepare(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root}: the certificate store path is a file, not a folder")
        for folder in (self.root, self.keys_dir, self.certs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.keys_dir.chmod(0o700)
        readme = self.root / "README.md"
        if not readme.exists():
            _atomic_write(readme, STORE_README.encode(), 0o644)

    # -- keys --------------------------------------------------------------------------
    def key_path(self, key_id: str) -> Path:
        return self.keys_dir / f"{key_id}.key.pem"

    def load_key(self, key_id: str) -> PrivateKey | None:
        path = self.key_path(key_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return load_private_key_pem(data)
        except (ValueError, TypeError) as exc:
            raise StoreError(
                f"{path}: not a readable private key ({exc}). {self._regenerate_hint(path)}"
            ) from None

    def save_key(self, key_id: str, key: PrivateKey) -> None:
        _atomic_write(self.key_path(key_id), private_key_pem(key), 0o600)

    # -- certificates ------------------------------------------------------------------
    def cert_path(self, cert_id: str) -> Path:
        return self.certs_dir / f"{cert_id}.pem"

    def meta_path(self, cert_id: str) -> Path:
        return self.certs_dir / f"{cert_id}.json"

    def load_certificate(self, cert_id: str, key: PrivateKey | None) -> StoredCertificate | None:
        """The stored certificate, or None when it was never completed (regenerate it).

        Raises StoreError when a completed entry is damaged or does not belong to its key.
        """
        cert_path, meta_path = self.cert_path(cert_id), self.meta_path(cert_id)
        try:
            meta_text = meta_path.read_text()
        except FileNotFoundError:
            return None
        try:
            meta = json.loads(meta_text)
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise StoreError(
                f"{meta_path}: damaged ({exc}). {self._regenerate_hint(meta_path)}"
            ) from None
        try:
            data = cert_path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            certificate = x509.load_pem_x509_certificate(data)
        except ValueError as exc:
            raise StoreError(
                f"{cert_path}: not a readable PEM certificate ({exc}). "
                f"{self._regenerate_hint(cert_path)}"
            ) from None
        if meta.get("sha256") != certificate.fingerprint(_SHA256).hex():
            raise StoreError(
                f"{cert_path}: this is not the certificate fakepeer stored here (its SHA-256 "
                f"differs from {meta_path.name}); it may be foreign or edited. "
                f"{self._regenerate_hint(cert_path)}"
            )
        if key is not None and not public_keys_equal(certificate.public_key(), key.public_key()):
            raise StoreError(
                f"{cert_path}: does not match its private key {self.key_path(meta['key'])}. "
                f"{self._regenerate_hint(cert_path)}"
            )
        return StoredCertificate(certificate, meta, cert_path)

    def save_certificate(self, cert_id: str, certificate: x509.Certificate,
                         meta: dict[str, Any]) -> None:
        meta = {**meta, "id": cert_id, "sha256": certificate.fingerprint(_SHA256).hex()}
        _atomic_write(self.cert_path(cert_id),
                      certificate.public_bytes(serialization.Encoding.PEM), 0o644)
        # Written last: a certificate without its description is never trusted.
        _atomic_write(self.meta_path(cert_id), json.dumps(meta, indent=1).encode(), 0o644)

    def stored_ids(self) -> list[str]:
        if not self.certs_dir.is_dir():
            return []
        return sorted(p.stem for p in self.certs_dir.glob("*.json"))

    def save_blob(self, relative: str, data: bytes) -> Path:
        path = self.certs_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, data, 0o644)
        return path

    def _regenerate_hint(self, path: Path) -> str:
        return (f"Delete it and run `fakepeer certs generate --certs {self.root}` to make a new "
                "one (what it signed is re-issued).")


_SHA256 = hashes.SHA256()


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise
