"""Session fixtures for the container tests: a working podman and the built image.

Both are made once per test session and shared by the image and the compose tests; a
machine that cannot provide them fails those tests with the reason (see podman.cannot).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.container.podman import (
    IMAGE,
    CannotRunContainers,
    Podman,
    cannot,
    download_wheels,
    missing_tools,
)


@pytest.fixture(scope="session")
def podman() -> Iterator[Podman]:
    missing = missing_tools()
    if missing:
        cannot(f"missing Debian packages: {', '.join(missing)}")
    tool = Podman()
    try:
        tool.usable()
    except CannotRunContainers as exc:
        cannot(str(exc))
    yield tool
    if tool.steps:
        print("\ncontainer test timings: "
              + "; ".join(f"{s.what} {s.seconds:.1f}s" for s in tool.steps))


@pytest.fixture(scope="session")
def image(podman: Podman) -> str:
    """The project's image, built from the unchanged Dockerfile on a local Debian base,
    offline; warm runs reuse the base tarball, the wheels and podman's layer cache."""
    start = time.monotonic()
    try:
        podman.ensure_base()
        wheels = download_wheels(podman.cache)
    except CannotRunContainers as exc:
        cannot(str(exc))
    podman.build(wheels)
    print(f"\nimage {IMAGE} ready in {time.monotonic() - start:.1f}s")
    return IMAGE
