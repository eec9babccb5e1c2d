"""The ``certs/`` folder: every key and certificate, written once and reused.

Layout::

    certs/.lock                      held while a process reads or generates
    certs/keys/<key-id>.key.pem      private keys, mode 0600, shared by every variant
    certs/pool/<type>-<n>.key.pem    spare keys made ahead of time (``fakepeer certs pool``)
    certs/<variant>/<cert-id>.pem    certificates ("lab", "real-names", "...-real-dates")
    certs/<variant>/<cert-id>.json   what the certificate was made from (written last)

The store and its folders are mode 0700 and keys 0600 whatever the umask. Every write goes
to a temporary file in the same folder and is renamed into place, so a generation killed
at any moment leaves either the old file or the new one; the temporary files such a kill
leaves behind are removed by the next process that takes the lock where it may write. A
certificate counts only once its ``.json`` exists and describes it; anything else is
regenerated. Keys are flushed to the disk before they are renamed into place (they are
the hierarchy's identity, which SBCs trust); certificates are not (flushing each cost
about a second per full generation here), and one that a power cut left empty is simply
made again.

Nothing is written while the store has what is asked for: a complete store serves from a
read-only file system or a folder the user may only read. ``read_only=True`` goes further:
what is missing is made in memory only, for looks that must leave no trace.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from fakepeer.errors import StoreError
from fakepeer.pki.files import (
    PRIVATE_FILE,
    PRIVATE_FOLDER,
    PUBLIC_FILE,
    atomic_write,
    explain_os_error,
    is_folder,
    make_folder,
    remove_leftovers,
)
from fakepeer.pki.keys import (
    KeySpec,
    PrivateKey,
    load_private_key_pem,
    private_key_pem,
    public_keys_equal,
    spec_of,
)

STORE_README = """\
# certs/

fakepeer's certificate store: throwaway keys and certificates made by `fakepeer certs
generate` and `fakepeer serve`. Nothing here is a real CA. Delete a file (or the whole
folder) and the next run regenerates what it needs. `pool/` holds spare keys made ahead
of time by `fakepeer certs pool`; a generation takes keys from it before making new ones.
"""


@dataclass(frozen=True, slots=True)
class StoredCertificate:
    certificate: x509.Certificate
    meta: dict[str, Any]
    path: Path


class CertStore:
    """Reads and writes the store; knows files, not hierarchies.

    With ``read_only`` the store never writes: not a key, not a certificate, not the lock
    file. What a caller saves is kept in memory for the life of this object, so a
    hierarchy can still be completed for a look (``scenarios show``) or from a store on
    read-only media.
    """

    def __init__(self, root: Path, variant: str, *, read_only: bool = False) -> None:
        self.root = root
        self.variant = variant
        self.read_only = read_only
        self.keys_dir = root / "keys"
        self.pool_dir = root / "pool"
        self.certs_dir = root / variant
        self._lock_depth = 0
        self._lock_file: int | None = None
        self._lock_writable = False
        self._write_refusal: str | None = None
        self._prepared = False
        self._cleaned = False
        self._memory: dict[Path, bytes] = {}  # read_only: what would have been written

    # -- locking -----------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock, so two fakepeer processes never generate the same file
        at once (the second waits, then finds everything made). Taking it writes nothing
        but the lock file, and not even that where the store cannot be written."""
        if self._lock_depth == 0:
            self._lock_file = self._open_lock()
            if self._lock_file is not None:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX)
                if self._lock_writable and not self._cleaned:
                    self._remove_leftovers()
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0 and self._lock_file is not None:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
                os.close(self._lock_file)
                self._lock_file = None
                self._lock_writable = False

    def _open_lock(self) -> int | None:
        """The lock file, opened for writing where possible, else for reading (flock works
        on either); None where there is none to open: nobody can be writing there. Why
        it could not be opened for writing is kept, and told only if a write is needed."""
        self._check_root()
        lock = self.root / ".lock"
        flags = os.O_CLOEXEC | os.O_NOFOLLOW
        if not self.read_only:
            missing = not self.root.exists()
            try:
                make_folder(self.root, PRIVATE_FOLDER)  # none yet: everything is missing
                fd = os.open(lock, os.O_RDWR | os.O_CREAT | flags, PRIVATE_FILE)
            except OSError as exc:
                doing = "create the certificate store" if missing else "write into the store"
                if missing and self.root.absolute().parent == Path.cwd():
                    doing += " (by default ./certs, in the current folder)"
                self._write_refusal = self._explain(exc, doing, self.root if missing else lock)
            else:
                self._lock_writable = True
                self._write_refusal = None
                return fd
        try:
            return os.open(lock, os.O_RDONLY | flags)
        except OSError:
            return None

    def _remove_leftovers(self) -> None:
        """Under the exclusive lock no other fakepeer is writing here: a temporary file in
        the store is what a killed run left behind. Removed once per process."""
        folders = [self.root, self.keys_dir, self.pool_dir, self.certs_dir]
        with contextlib.suppress(OSError):
            folders += [Path(e.path) for e in os.scandir(self.certs_dir) if e.is_dir()]
        for folder in folders:
            remove_leftovers(folder)
        self._cleaned = True

    def _check_root(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root}: the certificate store path is a file, not a folder. "
                             "Move the file away, or use another store with --certs DIR.")

    def ensure_writable(self) -> None:
        """Make sure what is missing can be saved, before the work of making it: one
        clear error now instead of seconds of key generation and then the same error."""
        if not self.read_only:
            with self.locked():
                self._prepare_for_writing()

    def _prepare_for_writing(self) -> None:
        """Folders, README and the leftovers of killed runs: done once, on the first write
        (a complete store is never touched)."""
        if self._prepared:
            return
        if not self._lock_writable:
            raise StoreError(self._write_refusal or f"{self.root}: cannot write into the store")
        for folder in (self.keys_dir, self.certs_dir):
            self._make_folder(folder, f"create the folder {folder.name}/")
        with contextlib.suppress(OSError):
            # keys/ made by an older fakepeer under a lax umask: keys stay the owner's.
            info = self.keys_dir.stat()
            if info.st_mode & 0o077 and info.st_uid == os.geteuid():
                self.keys_dir.chmod(PRIVATE_FOLDER)
        readme = self.root / "README.md"
        if not readme.exists():
            self._atomic_write(readme, STORE_README.encode(), PUBLIC_FILE, "write README.md")
        self._prepared = True

    def _make_folder(self, folder: Path, doing: str) -> None:
        try:
            make_folder(folder, PRIVATE_FOLDER)
        except OSError as exc:
            raise StoreError(self._explain(exc, doing)) from None

    # -- reading and writing -----------------------------------------------------------
    def _read(self, path: Path, what: str) -> bytes | None:
        """The file's bytes, or None when it does not exist (yet)."""
        if path in self._memory:
            return self._memory[path]
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(self._explain(exc, f"read {what}", path)) from None

    def _write(self, path: Path, data: bytes, mode: int, what: str, *,
               durable: bool = False) -> None:
        if self.read_only:
            self._memory[path] = data
            return
        with self.locked():
            self._prepare_for_writing()
            if not is_folder(path.parent):
                self._make_folder(path.parent, f"create the folder {path.parent.name}/")
            self._atomic_write(path, data, mode, f"write {what}", durable=durable)

    def _atomic_write(self, path: Path, data: bytes, mode: int, doing: str, *,
                      durable: bool = False) -> None:
        try:
            atomic_write(path, data, mode, durable=durable)
        except OSError as exc:
            raise StoreError(self._explain(exc, doing, path)) from None

    def _explain(self, exc: OSError, doing: str, path: Path | None = None) -> str:
        writing = doing.startswith(("write", "create", "take"))
        return explain_os_error(
            exc, doing, path, elsewhere="use another store with --certs DIR (or FAKEPEER_CERTS)",
            writing=writing)

    # -- keys --------------------------------------------------------------------------
    def key_path(self, key_id: str) -> Path:
        return self.keys_dir / f"{key_id}.key.pem"

    def load_key(self, key_id: str) -> PrivateKey | None:
        path = self.key_path(key_id)
        data = self._read(path, "the private key")
        if data is None:
            return None
        try:
            return load_private_key_pem(data)
        except (ValueError, TypeError) as exc:
            raise StoreError(
                f"{path}: not a readable private key ({exc}). {self._regenerate_hint(path)}"
            ) from None

    def save_key(self, key_id: str, key: PrivateKey) -> None:
        self._write(self.key_path(key_id), private_key_pem(key), PRIVATE_FILE, "the private key",
                    durable=True)

    # -- the key pool ------------------------------------------------------------------
    def pool_counts(self) -> collections.Counter[KeySpec]:
        """How many spare keys of each type the pool holds."""
        counts: collections.Counter[KeySpec] = collections.Counter()
        for path in self._pool_files():
            spec = _pool_spec(path)
            if spec is not None:
                counts[spec] += 1
        return counts

    def add_to_pool(self, key: PrivateKey) -> Path:
        """Keep ``key`` as a spare for a later generation."""
        path = self.pool_dir / f"{_pool_tag(spec_of(key))}-{secrets.token_hex(6)}.key.pem"
        self._write(path, private_key_pem(key), PRIVATE_FILE, "a spare key", durable=True)
        return path

    def take_from_pool(self, key_id: str, spec: KeySpec) -> PrivateKey | None:
        """Move a spare key of type ``spec`` into place as ``key_id`` (a rename: a key is
        either still spare or already assigned, even if the process dies in between)."""
        if self.read_only:
            return None  # taking one is a write
        for path in self._pool_files():
            if _pool_spec(path) != spec:
                continue
            data = self._read(path, "a spare key")
            if data is None:
                continue
            try:
                key = load_private_key_pem(data)
            except (ValueError, TypeError):
                continue  # not one of ours; leave it alone
            if not spec.matches(key):
                continue
            with self.locked():
                self._prepare_for_writing()
                try:
                    path.replace(self.key_path(key_id))
                except FileNotFoundError:
                    continue  # another process took it first
                except OSError as exc:
                    raise StoreError(self._explain(exc, "take a spare key", path)) from None
            return key
        return None

    def _pool_files(self) -> list[Path]:
        try:
            names = [e.name for e in os.scandir(self.pool_dir) if e.name.endswith(".key.pem")]
        except OSError:
            return []  # no pool (or none this user may read): keys are generated instead
        return [self.pool_dir / name for name in sorted(names)]

    # -- certificates ------------------------------------------------------------------
    def cert_path(self, cert_id: str) -> Path:
        return self.certs_dir / f"{cert_id}.pem"

    def meta_path(self, cert_id: str) -> Path:
        return self.certs_dir / f"{cert_id}.json"

    def load_meta(self, cert_id: str) -> dict[str, Any] | None:
        """What a certificate was made from, or None when it was never completed."""
        meta_path = self.meta_path(cert_id)
        text = self._read(meta_path, "the certificate's description")
        if not text:  # missing, or left empty by a power cut: never completed
            return None
        try:
            meta = json.loads(text)
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise StoreError(
                f"{meta_path}: damaged ({exc}). {self._regenerate_hint(meta_path)}"
            ) from None
        return meta

    def load_certificate(self, cert_id: str, key: PrivateKey | None) -> StoredCertificate | None:
        """The stored certificate, or None when it was never completed (regenerate it).

        Raises StoreError when a completed entry is damaged or does not belong to its key.
        """
        cert_path, meta_path = self.cert_path(cert_id), self.meta_path(cert_id)
        meta = self.load_meta(cert_id)
        if meta is None:
            return None
        data = self._read(cert_path, "the certificate")
        if not data:  # missing, or left empty by a power cut: make it again
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
        self._write(self.cert_path(cert_id),
                    certificate.public_bytes(serialization.Encoding.PEM), PUBLIC_FILE,
                    "the certificate")
        # Written last: a certificate without its description is never trusted.
        self._write(self.meta_path(cert_id), json.dumps(meta, indent=1).encode(), PUBLIC_FILE,
                    "the certificate's description")

    def stored_ids(self) -> list[str]:
        in_memory = {p.stem for p in self._memory if p.parent == self.certs_dir
                     and p.suffix == ".json"}
        try:
            on_disk = {Path(e.name).stem for e in os.scandir(self.certs_dir)
                       if e.name.endswith(".json")}
        except FileNotFoundError:
            on_disk = set()
        except OSError as exc:
            raise StoreError(self._explain(exc, "list the certificates", self.certs_dir)) from None
        return sorted(on_disk | in_memory)

    # -- other files -------------------------------------------------------------------
    def load_blob(self, relative: str) -> bytes | None:
        return self._read(self.certs_dir / relative, relative)

    def save_blob(self, relative: str, data: bytes) -> Path:
        path = self.certs_dir / relative
        self._write(path, data, PUBLIC_FILE, relative)
        return path

    def _regenerate_hint(self, path: Path) -> str:
        return (f"Delete it and run `fakepeer certs generate --certs {self.root}` to make a new "
                "one (what it signed is re-issued).")


_SHA256 = hashes.SHA256()


def _pool_tag(spec: KeySpec) -> str:
    """``rsa4096``, ``ec384``: the start of a spare key's file name."""
    return f"{spec.algorithm.lower()}{spec.size}"


def _pool_spec(path: Path) -> KeySpec | None:
    tag = path.name.partition("-")[0]
    for algorithm in ("RSA", "EC"):
        rest = tag.removeprefix(algorithm.lower())
        if rest != tag and rest.isdigit():
            try:
                return KeySpec(algorithm, int(rest))
            except ValueError:
                return None
    return None
