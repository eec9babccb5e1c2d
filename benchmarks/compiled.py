"""The benchmark's C programs, built from ``benchmarks/tlsload/`` on first use.

Debian's compiler and TLS library build them into ``benchmarks/build/NAME-HASH/`` (git
ignores ``build/``), where HASH covers the sources, the flags and the compiler's version:
a changed source builds anew, an unchanged one is reused. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SOURCES = Path(__file__).resolve().parent / "tlsload"
BUILD = Path(__file__).resolve().parent / "build"
FLAGS = ("-O2", "-std=c11", "-Wall", "-Wextra")


class BuildError(RuntimeError):
    """A program could not be built; the message says what to install."""


@dataclass(frozen=True)
class Program:
    name: str
    sources: tuple[str, ...]
    libraries: tuple[str, ...]
    package: str  # the Debian package with the headers and the library

    def digest(self, compiler: str) -> str:
        version = subprocess.run([compiler, "--version"], capture_output=True, text=True,
                                 check=False).stdout.splitlines()[:1]
        hashed = hashlib.sha256()
        for part in (*FLAGS, *self.libraries, *version):
            hashed.update(part.encode() + b"\0")
        for source in sorted({*self.sources, "tls_backend.h"}):
            hashed.update(source.encode() + b"\0" + (SOURCES / source).read_bytes())
        return hashed.hexdigest()[:16]


#: The load generator over each client library; wolfSSL's handshake is the cheaper one.
GENERATORS = {
    "wolfssl": Program("tlsload-wolfssl", ("tlsload.c", "tls_wolfssl.c"), ("-lwolfssl",),
                       "libwolfssl-dev"),
    "openssl": Program("tlsload-openssl", ("tlsload.c", "tls_openssl.c"),
                       ("-lssl", "-lcrypto"), "libssl-dev"),
}
#: The in-memory server handshake over Debian's OpenSSL (the library Kamailio uses).
FLOOR = Program("tlsfloor", ("tlsfloor.c",), ("-lssl", "-lcrypto"), "libssl-dev")


def build(program: Program) -> Path:
    """The program's binary, compiled now unless this exact source was built before."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise BuildError("no C compiler on PATH: install gcc and libc6-dev "
                         "(scripts/setup.sh --bench installs them)")
    target = BUILD / f"{program.name}-{program.digest(compiler)}" / program.name
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{program.name}.{os.getpid()}")
    command = [compiler, *FLAGS, "-o", str(partial),
               *(str(SOURCES / source) for source in program.sources), *program.libraries]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        first = next((line for line in done.stderr.splitlines() if "error" in line),
                     done.stderr.strip()[:200])
        raise BuildError(f"cannot build {program.name} ({first.strip()}): install "
                         f"{program.package} (scripts/setup.sh --bench installs it)")
    partial.replace(target)
    return target
