"""The fakepeer trees under test, each driven only through its own command line.

The benchmark never imports fakepeer: every tree (``--tree /work/baseline --tree .``)
makes its own store and SBC certificate with its own ``fakepeer certs`` and serves with
its own ``fakepeer serve``, with ``PYTHONPATH`` set to that tree. The chain a tree serves,
and its key, are read back the way a user would (``openssl s_client``, ``certs export
--format p12``), so Kamailio can present exactly the same chain.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.servers import fakepeer_environment

SBC_FQDN = "sbc.lab.example"


class TreeError(RuntimeError):
    """A tree could not make its certificates; the message quotes its command."""


@dataclass(frozen=True)
class SbcCertificate:
    """What a mutual-TLS SBC presents (leaf + intermediates), its key and its root."""

    chain: Path
    key: Path
    root: Path


@dataclass(frozen=True)
class Tree:
    """One fakepeer checkout, with the store and SBC certificate it made itself."""

    path: Path
    label: str
    commit: str
    store: Path
    sbc: SbcCertificate

    def fakepeer(self, *arguments: str, timeout: float = 120.0) -> str:
        """Run this tree's ``python -m fakepeer`` and return its standard output."""
        command = [sys.executable, "-m", "fakepeer", *arguments]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env=fakepeer_environment(self.path), check=False)
        if done.returncode != 0:
            raise TreeError(f"{self.label}: `fakepeer {' '.join(arguments)}` failed "
                            f"({done.returncode}): {(done.stderr or done.stdout).strip()[-600:]}")
        return done.stdout


def _commit(path: Path) -> str:
    done = subprocess.run(["git", "-C", str(path), "describe", "--always", "--dirty"],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or "not a git checkout"


def _labels(paths: list[Path]) -> list[str]:
    """Short names for the table: the folder's name, unique among the trees."""
    labels = [path.name or str(path) for path in paths]
    return [label if labels.count(label) == 1 else f"{label}#{index + 1}"
            for index, label in enumerate(labels)]


def prepare(paths: list[Path], folder: Path) -> list[Tree]:
    """Each tree's store (the 2026 Microsoft era) and SBC certificate, made by the tree."""
    trees = []
    for index, (path, label) in enumerate(zip(paths, _labels(paths), strict=True)):
        if not (path / "fakepeer" / "__main__.py").exists():
            raise TreeError(f"{path} is not a fakepeer checkout (no fakepeer/__main__.py): "
                            "pass --tree with the folder that holds the fakepeer package")
        place = folder / f"tree-{index + 1}"
        store, sbc = place / "certs", place / "sbc"
        tree = Tree(path, label, _commit(path), store,
                    SbcCertificate(sbc / f"{SBC_FQDN}.chain.pem", sbc / f"{SBC_FQDN}.key.pem",
                                   sbc / f"{SBC_FQDN}.root.pem"))
        place.mkdir(parents=True)
        tree.fakepeer("certs", "generate", "--era", "microsoft-2026", "--certs", str(store))
        tree.fakepeer("certs", "issue-sbc", SBC_FQDN, "--out", str(sbc), "--certs", str(store))
        trees.append(tree)
    return trees


def served_chain(port: int) -> bytes:
    """The certificates a server on 127.0.0.1:``port`` sends, as PEM, in its order."""
    done = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                           "-tls1_2", "-showcerts"], input=b"", capture_output=True,
                          timeout=20, check=False)
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?",
                        done.stdout, re.DOTALL)
    if not blocks:
        raise TreeError(f"no certificate from 127.0.0.1:{port}: {done.stderr[-300:]!r}")
    return b"".join(block if block.endswith(b"\n") else block + b"\n" for block in blocks)


def _sha256_of_first(pem: bytes) -> str:
    der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=pem,
                         capture_output=True, check=True).stdout
    return hashlib.sha256(der).hexdigest().upper()


def served_key(tree: Tree, chain: bytes, folder: Path) -> bytes:
    """The private key of the leaf ``chain`` starts with, exported from the tree's store."""
    fingerprint = _sha256_of_first(chain)
    listing = tree.fakepeer("certs", "list", "--certs", str(tree.store))
    match = re.search(rf"^(\S+)\n(?:\s+.*\n)*?\s+SHA-256\s+{fingerprint}\s*$", listing,
                      re.MULTILINE)
    if match is None:
        raise TreeError(f"{tree.label}: the served leaf (SHA-256 {fingerprint}) is not in "
                        "`fakepeer certs list`")
    bundle = folder / "served.p12"
    tree.fakepeer("certs", "export", match.group(1), "--format", "p12", "--out", str(bundle),
                  "--certs", str(tree.store))
    done = subprocess.run(["openssl", "pkcs12", "-in", str(bundle), "-nocerts", "-nodes",
                           "-passin", "pass:"], capture_output=True, timeout=20, check=False)
    bundle.unlink()
    key = re.search(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----\n",
                    done.stdout, re.DOTALL)
    if key is None:
        raise TreeError(f"{tree.label}: no key in the exported PKCS#12: {done.stderr[-300:]!r}")
    return key.group(0)
