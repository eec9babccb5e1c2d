"""``openssl`` as a real verifier and reader, on files written to disk; the CLI in-process."""

from __future__ import annotations

import io
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fakepeer.cli.environment import Environment
from fakepeer.cli.main import main
from fakepeer.cli.status import ExitStatus
from fakepeer.pki import export
from fakepeer.pki.chain import ServedChain


def run(args: list[str], cwd: Path,
        variables: dict[str, str] | None = None) -> tuple[ExitStatus, str, str]:
    """``fakepeer ARGS`` in-process, in ``cwd``: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    status = main(args, Environment(stdout=out, stderr=err, variables=variables or {}, cwd=cwd))
    return status, out.getvalue(), err.getvalue()


def openssl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=check,
                          timeout=30)


@dataclass
class VerifyResult:
    ok: bool
    error: int | None
    depth: int | None
    output: str


def openssl_verify(chain: ServedChain, folder: Path, *, host: str | None,
                   purpose: str = "sslserver", extra: tuple[str, ...] = (),
                   anchors: tuple = ()) -> VerifyResult:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "root.pem").write_bytes(export.pem(anchors or chain.trust_anchors))
    (folder / "leaf.pem").write_bytes(export.pem([chain.leaf]))
    command = ["openssl", "verify", "-x509_strict", "-purpose", purpose,
               "-CAfile", str(folder / "root.pem")]
    if host:
        command += ["-verify_hostname", host]
    if chain.extra:
        (folder / "chain.pem").write_bytes(export.pem(chain.extra))
        command += ["-untrusted", str(folder / "chain.pem")]
    command += [*extra, str(folder / "leaf.pem")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    output = done.stdout + done.stderr
    match = re.search(r"error (\d+) at (\d+) depth", output)
    return VerifyResult(
        ok=done.returncode == 0 and output.strip().endswith("OK"),
        error=int(match.group(1)) if match else None,
        depth=int(match.group(2)) if match else None,
        output=output,
    )
