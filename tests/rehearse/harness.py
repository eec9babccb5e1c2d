"""A real ``fakepeer rehearse`` process on 127.0.0.1, followed through its event log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT = 60.0


@dataclass
class Rehearsing:
    process: subprocess.Popen[bytes]
    folder: Path

    @property
    def events_path(self) -> Path:
        return self.folder / "events.jsonl"

    def events(self) -> list[dict[str, Any]]:
        if not self.events_path.exists():
            return []
        lines = self.events_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool],
                 timeout: float = 15.0) -> dict[str, Any]:
        """The first logged event matching ``predicate``, waiting up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if predicate(event):
                    return event
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no matching event within {timeout}s (exit "
                             f"{self.process.poll()}):\n{self.output()[-4000:]}")

    def listening(self, step: int, timeout: float = START_TIMEOUT) -> int:
        """The port step ``step`` listens on, once it does."""
        event = self.wait_for(lambda e: e["kind"] == "listening" and e["step"] == step,
                              timeout)
        return int(event["data"]["port"])

    def finish(self, timeout: float = 30.0) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"rehearse did not end:\n{self.output()[-4000:]}") from None

    def output(self) -> str:
        return "".join((self.folder / name).read_text(errors="replace")
                       for name in ("stdout.txt", "stderr.txt")
                       if (self.folder / name).exists())

    def stdout(self) -> str:
        return (self.folder / "stdout.txt").read_text(errors="replace")

    def stderr(self) -> str:
        return (self.folder / "stderr.txt").read_text(errors="replace")

    def report(self) -> dict[str, Any]:
        return json.loads((self.folder / "report.json").read_text(encoding="utf-8"))

    @property
    def html_path(self) -> Path:
        return self.folder / "report.html"


def start_rehearsal(certs: Path, folder: Path, plan: str, *options: str) -> Rehearsing:
    """Write ``plan`` to ``folder/plan.toml`` and start ``fakepeer rehearse`` on it, on an
    ephemeral loopback port, writing the event log and both reports into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plan.toml").write_text(plan, encoding="utf-8")
    command = [sys.executable, "-m", "fakepeer", "rehearse", str(folder / "plan.toml"),
               "--listen", "127.0.0.1:0", "--certs", str(certs),
               "--events", str(folder / "events.jsonl"),
               "--json-out", str(folder / "report.json"),
               "--html-out", str(folder / "report.html"), *options]
    with (folder / "stdout.txt").open("wb") as out, (folder / "stderr.txt").open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return Rehearsing(process, folder)
