"""Podman on a machine without a Docker engine or a registry, as the container tests use it.

The recipe (see the project's container-testing notes): Debian's podman with runc, a
private containers.conf, storage of our own under a cache folder, a base image made
locally with debootstrap, an offline image build from wheels downloaded on the host, and
containers published on 127.0.0.1 only through slirp4netns. Every step has a timeout and
fails with a sentence saying what this machine lacks; nothing here skips on its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import socket
import ssl
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from fakepeer.cli.commands.healthcheck import Answer, ProbeError, client_context, ping
from fakepeer.pki import export, mirrors
from fakepeer.pki.authority import IssueOptions
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.situation import sbc_chain
from fakepeer.pki.store import CertStore

REPO = Path(__file__).resolve().parents[2]
SKIP_VARIABLE = "FAKEPEER_SKIP_CONTAINER_TEST"
CACHE = Path(os.environ.get("FAKEPEER_CONTAINER_CACHE")
             or Path.home() / ".cache" / "fakepeer-container")
SUITE = "bookworm"  # Debian 12: Python 3.11, the project's own version
BASE_PYTHON = "3.11"
BASE_IMAGE = f"localhost/python:{BASE_PYTHON}-{SUITE}"
IMAGE = "localhost/fakepeer:test"
MIRROR = os.environ.get("FAKEPEER_DEBIAN_MIRROR", "http://deb.debian.org/debian")
IMAGE_UID = 10001  # the Dockerfile's FAKEPEER_UID

# binary -> the Debian package that provides it (scripts/setup.sh --test installs them)
TOOLS = {"podman": "podman", "runc": "runc", "slirp4netns": "slirp4netns",
         "debootstrap": "debootstrap", "newuidmap": "uidmap"}

# podman's defaults fail in this sandbox: its default ulimits cannot be set without
# CAP_SYS_RESOURCE, crun rejects the hybrid cgroup layout, and there is no systemd
# journal. Private, so /etc/containers stays untouched.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
netns = "slirp4netns"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""

# Loopback-only publishing through slirp4netns' own port handler: never the CNI bridge.
NETWORK = "slirp4netns:port_handler=slirp4netns"


class CannotRunContainers(Exception):  # noqa: N818 - reads as the sentence it reports
    """This machine cannot build or run the image; the message says why."""


def cannot(reason: str) -> None:
    """Fail loudly, or skip only when the operator switched the test off explicitly."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{SKIP_VARIABLE}=1: container test switched off ({reason})")
    pytest.fail(f"this machine cannot run the container test: {reason}\n"
                f"(install the tools with `scripts/setup.sh --test`; set {SKIP_VARIABLE}=1 "
                "to skip this test explicitly on a machine that cannot run containers)",
                pytrace=False)


def missing_tools() -> list[str]:
    return sorted({package for binary, package in TOOLS.items() if not shutil.which(binary)})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Step:
    """A timed command's outcome, kept for the report at the end of the test."""

    what: str
    seconds: float


class Podman:
    """``podman`` with our own storage and configuration; every call has a timeout."""

    def __init__(self, cache: Path = CACHE) -> None:
        self.cache = cache
        cache.mkdir(parents=True, exist_ok=True)
        self.conf = cache / "containers.conf"
        self.conf.write_text(CONTAINERS_CONF)
        self.env = {**os.environ, "CONTAINERS_CONF": str(self.conf)}
        self.base = ["podman", "--root", str(cache / "storage"),
                     "--runroot", str(cache / "run")]
        self.steps: list[Step] = []

    def run(self, *args: str, timeout: float, check: bool = True, what: str = ""
            ) -> subprocess.CompletedProcess[str]:
        start = time.monotonic()
        try:
            done = subprocess.run([*self.base, *args], capture_output=True, text=True,
                                  timeout=timeout, env=self.env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"podman {' '.join(args[:3])}... did not finish within "
                                 f"{timeout:g}s:\n{exc.stderr or ''}") from None
        if what:
            self.steps.append(Step(what, time.monotonic() - start))
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def usable(self) -> None:
        """``podman info`` answers with runc and our storage, or the machine cannot."""
        try:
            done = self.run("info", "--format", "{{.Host.OCIRuntime.Name}}", timeout=60,
                            check=False)
        except AssertionError as exc:
            raise CannotRunContainers(f"podman info hangs: {exc}") from None
        if done.returncode != 0:
            raise CannotRunContainers(f"podman info failed: {done.stderr.strip()[-800:]}")

    # -- the local base image ---------------------------------------------------------

    def ensure_base(self) -> None:
        """A Debian base with Python, made with debootstrap once; the tarball is cached,
        so a new storage (or a new machine with the same cache) only imports it."""
        if self.run("image", "exists", BASE_IMAGE, timeout=30, check=False).returncode == 0:
            return
        tarball = self.cache / f"base-{SUITE}.tar"
        if not tarball.exists():
            make_base_tarball(tarball)
        start = time.monotonic()
        with tarball.open("rb") as stream:
            done = subprocess.run(
                [*self.base, "import", "--change", 'CMD ["python3"]', "-", BASE_IMAGE],
                stdin=stream, capture_output=True, text=True, timeout=180, env=self.env)
        if done.returncode != 0:
            raise CannotRunContainers(f"podman import of the base failed: {done.stderr[-800:]}")
        self.steps.append(Step("import base image", time.monotonic() - start))

    # -- the image ----------------------------------------------------------------------

    def build(self, wheels: Path, tag: str = IMAGE) -> None:
        """``podman build`` of the unchanged Dockerfile, offline: no network at all, pip
        pointed at the host's wheels by a mounted /etc/pip.conf."""
        pip_conf = self.cache / "pip.conf"
        pip_conf.write_text("[global]\nno-index = true\nfind-links = /wheels\n"
                            "disable-pip-version-check = true\n")
        self.run("build", "--pull=never", "--network", "none", "--format", "docker",
                 "--build-arg", f"BASE={BASE_IMAGE}",
                 "--volume", f"{wheels}:/wheels:ro",
                 "--volume", f"{pip_conf}:/etc/pip.conf:ro",
                 "--tag", tag, "--file", str(REPO / "Dockerfile"), str(REPO),
                 timeout=300, what="build image")
        # Each source change leaves the previous image untagged. Keep the last hour's (the
        # layer cache of a warm rebuild) and drop older ones, so the cache stays bounded.
        self.run("image", "prune", "--force", "--filter", "until=1h", timeout=120,
                 check=False)


def make_base_tarball(tarball: Path) -> None:
    """debootstrap a minimal Debian with Python into a tarball (about a minute)."""
    if os.geteuid() != 0:
        raise CannotRunContainers("debootstrap needs root to make the local base image")
    rootfs = tarball.with_suffix(".rootfs")
    shutil.rmtree(rootfs, ignore_errors=True)
    packages = "python3,python3-venv,python3-pip,python-is-python3,ca-certificates,netbase," \
               "tzdata,adduser"
    try:
        done = subprocess.run(["debootstrap", "--variant=minbase", f"--include={packages}",
                               SUITE, str(rootfs), MIRROR],
                              capture_output=True, text=True, timeout=400)
    except subprocess.TimeoutExpired:
        raise CannotRunContainers("debootstrap did not finish within 400s") from None
    if done.returncode != 0:
        raise CannotRunContainers(f"debootstrap {SUITE} failed:\n{done.stdout[-1500:]}")
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    link = rootfs / "usr/local/bin/python"
    if not link.exists():
        link.symlink_to("/usr/bin/python3")
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    partial = tarball.with_suffix(".tar.partial")
    with partial.open("wb") as out:
        subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."],
                       stdout=out, check=True, timeout=300)
    partial.replace(tarball)
    shutil.rmtree(rootfs, ignore_errors=True)


# -- offline wheels ---------------------------------------------------------------------


def requirements() -> list[str]:
    """What the image's ``pip install .`` needs: the runtime dependencies and the build
    backend, read from pyproject.toml so the list cannot drift."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    return sorted([*project["project"]["dependencies"], *project["build-system"]["requires"]])


def download_wheels(cache: Path = CACHE, timeout: float = 240) -> Path:
    """``pip download`` the requirements as wheels for the base's Python, once per set of
    requirements (a stamp records which), into ``cache/wheels-<hash>``."""
    wanted = requirements()
    machine = platform.machine()
    key = hashlib.sha256(json.dumps([wanted, BASE_PYTHON, machine]).encode()).hexdigest()[:12]
    folder = cache / f"wheels-{key}"
    stamp = folder / ".complete"
    if stamp.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(36, 16, -1)]
    platforms += [f"manylinux2014_{machine}", f"linux_{machine}"]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--dest", str(folder), "--only-binary=:all:",
               "--python-version", BASE_PYTHON, "--implementation", "cp",
               *(arg for p in platforms for arg in ("--platform", p)), *wanted]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CannotRunContainers(f"pip download of the image's wheels took over {timeout}s"
                                  ) from None
    if done.returncode != 0:
        raise CannotRunContainers(f"pip download of the image's wheels failed:\n"
                                  f"{done.stderr[-1500:]}")
    stamp.write_text("\n".join(wanted) + "\n")
    return folder


# -- containers and clients -------------------------------------------------------------

LISTENING = "listening for SIP over TLS"


def wait_listening(podman: Podman, name: str, timeout: float = 90.0) -> float:
    """Seconds until ``fakepeer serve`` in ``name`` logs that it listens (the first start
    generates the CAs first). A container that exits meanwhile fails with its log."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        logs = podman.run("logs", name, timeout=30, check=False)
        if LISTENING in logs.stdout:
            return time.monotonic() - start
        state = podman.run("inspect", name, "--format", "{{.State.Status}}", timeout=30,
                           check=False).stdout.strip()
        if state not in ("running", "created", "configured", "initialized"):
            raise AssertionError(f"container {name} is {state or 'gone'} before listening:\n"
                                 f"{logs.stdout[-3000:]}\n{logs.stderr[-3000:]}")
        time.sleep(0.2)
    raise AssertionError(f"container {name} did not listen within {timeout:g}s")


def volume_path(podman: Podman, volume: str) -> Path:
    """Where a named volume lives on this host (rootful podman: under our storage)."""
    done = podman.run("volume", "inspect", volume, "--format", "{{.Mountpoint}}", timeout=30)
    return Path(done.stdout.strip())


def lab_sbc(store: Path, era: str, fqdn: str = "sbc.container-test.invalid"
            ) -> tuple[ssl.SSLContext, x509.Certificate]:
    """A host-side SBC for a container's store: a TLS context presenting an SBC certificate
    issued from that store (so the container trusts it) and verifying the served chain
    against the era's root from the same store, as a correctly configured SBC does.
    Call it only after the container listens: its CAs must exist and be its own."""
    options = IssueOptions()
    pki = Pki(CertStore(store, options.variant), options)
    anchor = pki.certificate(mirrors.ERAS[era].path().anchor).certificate
    client = sbc_chain(pki, (fqdn,))
    return client_context(client, trust=(export.pem([anchor]),)), anchor


def answer_through(port: int, context: ssl.SSLContext, *, fqdn: str, timeout: float = 30.0,
                   hostname: str = "sip.pstnhub.microsoft.com") -> Answer:
    """OPTIONS over verified mutual TLS through a published loopback port, retried while
    the published port is not yet forwarded (slirp4netns accepts and then drops)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return ping("127.0.0.1", port, context, fqdn=fqdn, timeout=5.0,
                        server_hostname=hostname)
        except ProbeError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"127.0.0.1:{port} never answered: {exc}") from None
            time.sleep(0.25)
