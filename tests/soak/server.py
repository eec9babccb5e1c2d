"""A real ``fakepeer serve`` whose output goes to files, and its memory as Linux sees it.

Unlike :func:`tests.serve.harness.serving_process`, nothing is piped back into the test
process: at soak volumes a reader thread parsing every JSON line would compete with the
clients for the GIL and, when it fell behind, a full pipe would stall serve itself and
show up as latency that is not serve's. The port comes from the ``--events`` file.
``serve`` lifts its own open-files limit to the hard one at start
(``fakepeer/app/serve.py``), so no ``preexec_fn`` is needed here.
"""

from __future__ import annotations

import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.soak.events import EventsFile

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


@dataclass
class FileServer:
    process: subprocess.Popen[bytes]
    events: EventsFile
    console: Path
    stderr: Path
    port: int = 0

    def rss_kib(self) -> int:
        return rss_kib(self.process.pid)

    def refusals(self) -> int:
        """Connections serve said it refused over the cap (its stderr: one line per
        interval with the count, since issue 12 #2; fakepeer's own notice, no record)."""
        text = self.stderr.read_text(errors="replace")
        return sum(int(n) for n in re.findall(r"refused (\d+) connections? at accept", text))

    def problems(self) -> list[str]:
        """Traceback and unhandled-error lines serve wrote to its stderr or console."""
        lines: list[str] = []
        for path in (self.stderr, self.console):
            with path.open(errors="replace") as stream:
                lines += [line.rstrip() for line in stream
                          if "Traceback" in line or "Unhandled" in line]
        return lines


def rss_kib(pid: int) -> int:
    """The resident set of ``pid`` (``VmRSS`` in ``/proc/PID/status``), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def settled_rss_kib(pid: int, seconds: float = 1.0, samples: int = 10) -> int:
    """The median of ``samples`` readings over ``seconds``: one reading can catch a
    transient (a verdict being written, a buffer not yet freed)."""
    readings = []
    for _ in range(samples):
        readings.append(rss_kib(pid))
        time.sleep(seconds / samples)
    return int(statistics.median(readings))


@dataclass
class PeakRss:
    """Samples ``pid``'s RSS every ``interval`` seconds in a thread and keeps the peak."""

    pid: int
    interval: float = 0.1
    peak_kib: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
            except (OSError, AssertionError):  # the process has gone
                return


@contextmanager
def serving_to_files(certs: Path, folder: Path, *options: str) -> Iterator[FileServer]:
    """``fakepeer serve`` on 127.0.0.1, an ephemeral port, no HTTP side, events to
    ``folder/events.jsonl``; stopped with SIGTERM (then killed) when the block ends."""
    events = folder / "events.jsonl"
    console, stderr = folder / "console.txt", folder / "stderr.txt"
    command = [sys.executable, "-m", "fakepeer", "serve", "--listen", "127.0.0.1:0",
               "--no-http", "--certs", str(certs), "--events", str(events), *options]
    with console.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    server = FileServer(process, EventsFile(events), console, stderr)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.events.listening_port:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("fakepeer serve did not start:\n"
                                     + stderr.read_text(errors="replace")[-4000:])
            time.sleep(0.05)
            server.events.update()
        server.port = server.events.listening_port
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
