"""compose.yaml: three proxies (sip, sip2, sip3) an SBC can fail over between.

The file is checked twice. Its structure, as written: three services with the Teams
names as hostnames and network aliases, fixed and distinct addresses on one user-defined
network, one shared certs volume, loopback-only default publishing, and comments telling
the SBC admin how the names resolve. Then for real with podman-compose: the three start
from the real image on the shared volume and each completes mutual TLS and OPTIONS; one
is stopped and the other two still answer (what an SBC's failover relies on).

The live run replaces only the networking (a test override): a user-defined bridge with
fixed private addresses is not something this test may create on a shared machine, so
each proxy gets slirp4netns with a free port on 127.0.0.1 instead. `podman-compose config`
still validates the unmodified file, bridge network included.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.container.podman import (
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

COMPOSE = REPO / "compose.yaml"
SBC = "sbc.compose-test.invalid"
PROXIES = {"sip": "sip.pstnhub.microsoft.com", "sip2": "sip2.pstnhub.microsoft.com",
           "sip3": "sip3.pstnhub.microsoft.com"}


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _default(value: str) -> str:
    """``${NAME:-default}`` interpolated with no variables set, as compose does."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


def test_compose_file_describes_three_failover_proxies() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == set(PROXIES), "sip, sip2, sip3 (each with its HTTP side)"
    subnet = ipaddress.ip_network(compose["networks"]["lab"]["ipam"]["config"][0]["subnet"])
    addresses, published = set(), set()
    for service, fqdn in PROXIES.items():
        spec = services[service]
        assert spec["hostname"] == fqdn
        lab = spec["networks"]["lab"]
        assert fqdn in lab["aliases"]
        address = ipaddress.ip_address(lab["ipv4_address"])
        assert address in subnet
        addresses.add(address)
        assert spec["volumes"] == ["certs:/certs"], "one store shared by the three"
        assert spec["image"] and spec["build"] == "."
        assert spec["command"][0] == "serve"
        mapped = {}
        for port in spec["ports"]:
            host, host_port, container_port = _default(port).rsplit(":", 2)
            assert ipaddress.ip_address(host).is_loopback, f"{service} published beyond " \
                "loopback by default"
            mapped[container_port] = (host, host_port)
        assert mapped["5061"][1] == "5061"
        published.add(mapped["5061"][0])
        assert set(mapped) == ({"5061", "8080"} if service == "sip" else {"5061"})
        assert spec["environment"]["FAKEPEER_LISTEN"] == "0.0.0.0:5061"
        variable = f"FAKEPEER_{service.upper()}_SCENARIO"
        assert spec["environment"]["FAKEPEER_SCENARIO"] == \
            f"${{{variable}:-baseline-microsoft-2026}}", "a scenario per proxy, by environment"
    assert len(addresses) == 3 and len(published) == 3, "each proxy its own address"
    assert "certs" in compose["volumes"]


def test_compose_file_tells_how_the_sbc_finds_the_proxies() -> None:
    text = COMPOSE.read_text()
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    assert "DNS" in comments and "hosts" in comments
    for service, fqdn in PROXIES.items():
        address = _compose()["services"][service]["networks"]["lab"]["ipv4_address"]
        assert f"{fqdn}:{address}" in comments, f"extra_hosts example for {service}"
    assert "FAKEPEER_HTTP_ADDRESS" in comments, "where the SBC fetches AIA and CRLs"


def _podman_compose(podman: Podman, project: str, files: list[Path], *args: str,
                    timeout: float, env: dict[str, str] | None = None
                    ) -> subprocess.CompletedProcess[str]:
    podman_args = " ".join(podman.base[1:])
    command = [sys.executable, "-m", "podman_compose", "--podman-args", podman_args,
               "--in-pod", "false", "--project-name", project,
               *(arg for f in files for arg in ("--file", str(f))), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env={**podman.env, **(env or {})}, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"podman-compose {' '.join(args)} took over {timeout:g}s"
                             ) from None
    assert done.returncode == 0, (f"podman-compose {' '.join(args)} exited "
                                  f"{done.returncode}:\n{done.stdout[-3000:]}\n"
                                  f"{done.stderr[-3000:]}")
    return done


def _override(image: str, ports: dict[str, int]) -> str:
    """Same services, but on slirp4netns with a free 127.0.0.1 port each, and the test
    image instead of a build."""
    lines = ["services:"]
    for service, port in ports.items():
        lines += [f"  {service}:", f"    image: {image}", "    pull_policy: never",
                  f'    network_mode: "{NETWORK}"', "    networks: !reset null",
                  f'    ports: !override ["127.0.0.1:{port}:5061"]']
    lines.append("networks: !reset null")
    return "\n".join(lines) + "\n"


def test_compose_lab_starts_three_proxies_that_fail_over(podman: Podman, image: str,
                                                         tmp_path: Path) -> None:
    project = f"fakepeer-lab-test-{os.getpid()}"
    ports = {service: free_port() for service in PROXIES}
    override = tmp_path / "compose.test.yaml"
    override.write_text(_override(image, ports))
    files = [COMPOSE, override]
    containers = {service: f"{project}_{service}_1" for service in PROXIES}

    # The unmodified file, bridge network and all, is valid to podman-compose.
    plain = _podman_compose(podman, project, [COMPOSE], "config", timeout=60)
    assert "ipv4_address: 172.30.61.11" in plain.stdout

    # A rollout by hand, by environment: sip3 still on the 2023 chain, the others on 2026.
    env = {"FAKEPEER_SIP3_SCENARIO": "baseline-microsoft-2023"}
    try:
        start = time.monotonic()
        _podman_compose(podman, project, files, "up", "-d", "--no-build", timeout=180,
                        env=env)
        for name in containers.values():
            wait_listening(podman, name)
        podman.steps.append(Step("compose up to three listening", time.monotonic() - start))

        store = volume_path(podman, f"{project}_certs")
        leaves = {}
        for service, fqdn in PROXIES.items():
            era = "microsoft-2023" if service == "sip3" else "microsoft-2026"
            hostname = podman.run("exec", containers[service], "hostname", timeout=30)
            assert hostname.stdout.strip() == fqdn
            context, _ = lab_sbc(store, era, SBC)
            answer = answer_through(ports[service], context, fqdn=SBC,
                                    hostname=fqdn)
            assert answer.status == 200, (service, answer)
            leaves[service] = answer.peer_chain_der[0]
        # One store: sip and sip2 serve the very same certificate; sip3 its era's own.
        assert leaves["sip"] == leaves["sip2"] != leaves["sip3"]

        # Failover: with sip stopped, sip2 and sip3 still answer.
        _podman_compose(podman, project, files, "stop", "sip", timeout=60, env=env)
        state = podman.run("inspect", containers["sip"], "--format",
                           "{{.State.Status}} {{.State.ExitCode}}", timeout=30)
        assert state.stdout.split() == ["exited", "0"]
        for service in ("sip2", "sip3"):
            era = "microsoft-2023" if service == "sip3" else "microsoft-2026"
            context, _ = lab_sbc(store, era, SBC)
            assert answer_through(ports[service], context, fqdn=SBC,
                                  hostname=PROXIES[service]).status == 200
    finally:
        subprocess.run([sys.executable, "-m", "podman_compose", "--podman-args",
                        " ".join(podman.base[1:]), "--in-pod", "false", "--project-name",
                        project, *(a for f in files for a in ("--file", str(f))),
                        "down", "--volumes", "--timeout", "0"],
                       capture_output=True, timeout=120, env={**podman.env, **env},
                       stdin=subprocess.DEVNULL, check=False)
        podman.run("rm", "--force", "--ignore", *containers.values(), timeout=60, check=False)
        podman.run("volume", "rm", "--force", f"{project}_certs", timeout=30, check=False)
