"""The README's offline container route is the one tests/container really runs.

The registry route (``docker build -t fakepeer .``) cannot run on the project's machines,
which reach no container registry; the offline route is what ``tests/container`` builds
and runs with podman. These checks keep the README's commands and that test's in step:
the debootstrap base, its import, the wheels, pip's configuration and every flag of
``podman build``. The build's argument list is read by running ``Podman.build`` with its
one subprocess call recorded instead of executed; nothing here starts podman.
"""

from __future__ import annotations

import ast
import configparser
import inspect
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.container import podman
from tests.readme import ROOT, section

#: podman build options that take a value (the rest of the options stand alone)
VALUED = {"--network", "--format", "--build-arg", "--volume", "--tag", "-t", "--file", "-f"}


def offline_commands() -> list[list[str]]:
    """The README's offline block as argument lists, one per command, pipes split."""
    blocks = re.findall(r"```sh\n(.*?)```", section("Running in a container"), re.DOTALL)
    (block,) = [b for b in blocks if "debootstrap" in b]
    commands: list[list[str]] = []
    for line in block.replace("\\\n", " ").splitlines():
        for part in line.split(" | "):
            commands.append(shlex.split(part))
    return commands


def command(program: str, *words: str) -> list[str]:
    """The README command that starts with ``program`` and ``words``."""
    head = [program, *words]
    (found,) = [c for c in offline_commands() if c[:len(head)] == head]
    return found


def build_options(argv: list[str]) -> tuple[set[tuple[str, str]], dict[str, str]]:
    """``podman build``'s options as (flag, value) pairs, volumes by their container side,
    and the host side of each volume by its container side. Tag, file and context, which
    differ on purpose (a test image, the README's checkout), are left out."""
    options: set[tuple[str, str]] = set()
    volumes: dict[str, str] = {}
    words = iter(argv[argv.index("build") + 1:])
    for word in words:
        if word not in VALUED:
            if word.startswith("-"):
                options.add((word, ""))
            continue
        value = next(words)
        if word == "--volume":
            host, inside = value.split(":", 1)
            volumes[inside] = host
            options.add((word, inside))
        elif word not in {"--tag", "-t", "--file", "-f"}:
            options.add((word, value))
    return options, volumes


class RecordingPodman(podman.Podman):
    """The container test's Podman, with the command it would run kept, not executed."""

    def __init__(self, cache: Path) -> None:
        super().__init__(cache)
        self.calls: list[tuple[str, ...]] = []

    def run(self, *args: str, timeout: float, check: bool = True, what: str = "",
            ) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        return subprocess.CompletedProcess(list(args), 0, "", "")


def test_the_base_is_debootstrapped_as_the_container_test_does() -> None:
    """Same variant, suite and packages (read from make_base_tarball), the marker that
    forbids pip removed, python linked, and imported under the base image's name."""
    debootstrap = command("debootstrap")
    assert "--variant=minbase" in debootstrap
    (include,) = [w.split("=", 1)[1] for w in debootstrap if w.startswith("--include=")]
    tree = ast.parse(inspect.getsource(podman.make_base_tarball))
    (packages,) = [ast.literal_eval(node.value) for node in ast.walk(tree)
                   if isinstance(node, ast.Assign)
                   and any(isinstance(t, ast.Name) and t.id == "packages" for t in node.targets)]
    assert set(include.split(",")) == set(packages.split(","))
    rootfs = debootstrap[-1]
    assert debootstrap[-2] == podman.SUITE
    assert command("rm") == ["rm", f"{rootfs}/usr/lib/python3*/EXTERNALLY-MANAGED"]
    assert command("ln")[-2:] == ["/usr/bin/python3", f"{rootfs}/usr/local/bin/python"]
    assert command("tar")[-4:] == ["-C", rootfs, "-c", "."]
    assert command("podman", "import") == ["podman", "import", "--change", 'CMD ["python3"]',
                                           "-", podman.BASE_IMAGE]


def test_the_wheels_are_what_the_container_test_downloads() -> None:
    """``.`` brings the project's dependencies; the rest must be the build backend, the
    other half of podman.requirements()."""
    download = command(".venv/bin/python", "-m", "pip", "download")
    assert "--only-binary=:all:" in download
    named = [w for w in download[4:] if not w.startswith("-")]
    destination = download[download.index("--dest") + 1]
    named.remove(destination)
    assert "." in named
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    backend = {re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0]
               for r in project["build-system"]["requires"]}
    assert set(named) - {"."} == backend
    assert sorted([*project["project"]["dependencies"], *project["build-system"]["requires"]]
                  ) == podman.requirements()


def test_podman_build_has_the_container_tests_flags_and_pip_configuration(
        tmp_path: Path) -> None:
    """Every option of the README's ``podman build`` is the container test's, the wheels
    folder is the one pip downloaded into, and the mounted pip.conf says what the test's
    does."""
    recorder = RecordingPodman(tmp_path)
    recorder.build(tmp_path / "wheels")
    tested, _ = build_options(list(recorder.calls[0]))
    readme_build = command("podman", "build")
    readme, readme_volumes = build_options(readme_build)
    assert readme == tested
    assert readme_build[-1] == "."
    download = command(".venv/bin/python", "-m", "pip", "download")
    assert readme_volumes["/wheels:ro"] == f"$PWD/{download[download.index('--dest') + 1]}"

    printf = command("printf")
    assert printf[-2:] == [">", readme_volumes["/etc/pip.conf:ro"].removeprefix("$PWD/")]
    readme_conf = _ini(printf[1].encode().decode("unicode_escape"))
    tested_conf = _ini((tmp_path / "pip.conf").read_text())
    assert readme_conf["global"] == {k: tested_conf["global"][k] for k in ("no-index",
                                                                          "find-links")}


def _ini(text: str) -> dict[str, Any]:
    parser = configparser.ConfigParser()
    parser.read_string(text)
    return {name: dict(parser[name]) for name in parser.sections()}


@pytest.mark.parametrize("what", ["docker build -t fakepeer .", "--build-arg BASE="])
def test_both_routes_are_in_the_readme(what: str) -> None:
    """The registry route and the offline one, each with its own command."""
    assert what in section("Running in a container")
