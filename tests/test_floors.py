"""The dependency floors in pyproject.toml are true: a virtual environment with exactly
the declared minimums (from the package index or local wheels) runs the fast tests.

The environment is built once per set of floors and kept under the user's cache
(``$XDG_CACHE_HOME/fakepeer/floors-<hash>``), so later runs only run the tests. Raising
a floor changes the hash and builds a new one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Fast tests that reach every floor: the sans-I/O SIP layer, scenario and vocabulary
#: checks, the PKI's certificate building, and real in-memory TLS handshakes (pyOpenSSL,
#: cryptography and Twisted's TLS protocol).
FAST_TESTS = ("tests/sip/test_connection.py", "tests/scenario/test_model.py",
              "tests/test_vocabulary.py", "tests/tls/test_tls_memory.py",
              "tests/tls/test_tls_context.py", "tests/tls/test_tls_policy.py")
TEST_TOOLS = ("pytest", "pytest-twisted", "hypothesis", "trustme")
_FLOOR = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?P<extra>\[[^\]]*\])?>=(?P<version>[^,;\s]+)$")


def declared_floors() -> dict[str, str]:
    """``name[extra]`` -> the minimum version of every runtime dependency."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {}
    for requirement in project["dependencies"]:
        match = _FLOOR.match(requirement.replace(" ", ""))
        assert match, f"{requirement!r}: every dependency needs a floor (name>=version)"
        floors[match["name"] + (match["extra"] or "")] = match["version"]
    return floors


def _version(text: str) -> tuple[int, ...]:
    """``23.10`` and ``23.10.0`` alike: the numbers, padded to three."""
    numbers = [int(part) for part in text.split(".")]
    return tuple([*numbers, 0, 0][:max(3, len(numbers))])


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()


@pytest.fixture(scope="module")
def floor_python() -> Path:
    """The interpreter of a venv holding exactly the floors (built when missing)."""
    floors = declared_floors()
    pins = [f"{name}=={version}" for name, version in sorted(floors.items())]
    tag = hashlib.sha256(repr((sys.version_info[:2], pins, TEST_TOOLS)).encode()).hexdigest()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fakepeer"
    target = cache / f"floors-{tag[:16]}"
    python = target / "bin" / "python"
    if not (target / "complete").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix="floors-building-", dir=cache))
        try:
            subprocess.run([sys.executable, "-m", "venv", str(building)], check=True,
                           timeout=120)
            done = subprocess.run([str(building / "bin" / "python"), "-m", "pip", "install",
                                   "--quiet", *pins, *TEST_TOOLS], capture_output=True,
                                  text=True, timeout=600)
            assert done.returncode == 0, f"cannot install the floors {pins}:\n{done.stderr}"
            (building / "complete").write_text("\n".join(pins) + "\n")
            if not (target / "complete").is_file():  # another run may have won the race
                shutil.rmtree(target, ignore_errors=True)
                building.rename(target)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return python


def test_the_venv_holds_exactly_the_floors(floor_python):
    """Each runtime dependency is installed at its declared minimum, not above."""
    listed = subprocess.run([str(floor_python), "-m", "pip", "list", "--format=freeze"],
                            capture_output=True, text=True, check=True, timeout=120).stdout
    installed = dict(line.lower().split("==") for line in listed.split() if "==" in line)
    for name, version in declared_floors().items():
        found = installed.get(_normal(name))
        assert found is not None, f"{name} is not installed"
        assert _version(found) == _version(version), \
            f"{name}: {found} installed, floor {version}"


def test_the_fast_tests_pass_on_the_declared_minimums(floor_python):
    """The fast sans-I/O, scenario, PKI and in-memory TLS tests pass on the floors."""
    done = subprocess.run([str(floor_python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *FAST_TESTS], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
