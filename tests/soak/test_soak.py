"""The soak of issue 12: a real ``fakepeer serve`` holds 1,000 mutual-TLS connections of
good SBCs while the hostile clients of items 1-7 run; every sampled good SBC keeps
getting 200 OK within a latency bound, RSS returns to within 10% of its baseline after
they leave, no event is lost and serve prints no traceback.

Phases, one ``serve`` for all of them:

0. warm-up: 1,000 good connections opened (one OPTIONS each) and closed. The baseline
   RSS is taken after it, once every connection is closed (judged): CPython and glibc
   keep the memory one round of 1,000 needed (measured here: 54 MiB at start, 140
   after the first round, 141 after a second), so growth past that, not the first
   round's high-water mark, is what a leak looks like.
1. 1,000 good connections opened again and held.
2. while they stay open, :data:`SAMPLED` of them ask OPTIONS round-robin and the
   hostile clients run: over the cap (first, while nothing else is open), slowloris
   (all through the phase, to serve's head deadline), crafted client certificates,
   plain SIP and garbage on the TLS port, pipelined garbage, a huge and a folded
   header, keep-alive floods.
3. everything closed; every connection's records are counted by kind in the events
   file against what the client did (:mod:`tests.soak.events`); RSS is read again.

The figures are printed in pytest's terminal summary (``tests/soak/conftest.py``).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from benchmarks import loadgen
from fakepeer.net.sip_protocol import DEFAULT_CLOSE_GRACE
from fakepeer.sip.limits import DEFAULT_HEAD_DEADLINE
from tests.crafted import crafted_certificates, key_pem
from tests.serve.conftest import SbcFiles
from tests.soak import clients
from tests.soak.clients import GoodConnection, Made
from tests.soak.events import EventsFile, match
from tests.soak.figures import Figures, keep
from tests.soak.server import FileServer, PeakRss, serving_to_files, settled_rss_kib

pytestmark = pytest.mark.loopback

#: Good SBC connections held through the attack (the issue's figure).
HELD = 1000
#: Handshakes in flight at once while they are opened.
HANDSHAKES_AT_ONCE = 50
#: Room under ``--max-connections`` beside the held connections, for the hostile ones.
CAP_ROOM = 40
#: Over the cap: silent TCP peers and good SBCs that must be refused before TLS.
OVER_CAP_SILENT = 20
OVER_CAP_SBCS = 5
#: A refused connection must be closed this soon after its connect.
REFUSAL_DEADLINE = 2.0
#: Held connections that keep asking OPTIONS during the attack, in this many loops, each
#: pausing this long between requests (about 80 requests a second in all).
SAMPLED = 50
SAMPLER_LOOPS = 5
SAMPLE_PAUSE = 0.05
#: Every sampled OPTIONS must be answered 200 within ANSWER_TIMEOUT, and 99% of them
#: within ANSWER_P99_BOUND. Measured on a 2-core machine shared with other jobs:
#: p50 2 ms, p99 0.15 s, max 0.78 s (load 3.5, every hostile client but the flood,
#: before item 4 was fixed); p99 0.27 s, max 0.35 s (load 0.8, all of them); the bound
#: leaves a margin of about 4.
ANSWER_TIMEOUT = 10.0
ANSWER_P99_BOUND = 1.0
#: At least this many sampled answers, or the attack was not watched.
MIN_ASKED = 500
PIPELINED_CLIENTS = 3
#: Malformed requests in one write: about 15.5 KB, one TLS record (issue: ~495 recursed).
PIPELINED = 500
PIPELINED_TIMEOUT = 20.0
FLOOD_CLIENTS = 2
FLOOD_BYTES = 2 * 1024 * 1024
FLOOD_TIMEOUT = 15.0
#: Keep-alive records one flooding connection may leave in the events file: a summary
#: per connection and per interval, not a record per ping (item 4).
KEEPALIVE_RECORDS_BOUND = 20
OVERSIZED_CLIENTS = 2
OVERSIZED_LIMIT = 4 * 1024 * 1024
#: serve closes a connection after a fatal framing error within its close grace.
OVERSIZED_CLOSE_BOUND = DEFAULT_CLOSE_GRACE + 3.0
SLOWLORIS_CLIENTS = 10
SLOWLORIS_INTERVAL = 1.0
SLOWLORIS_SLACK = 5.0
NOT_TLS_CLIENTS = 5
NOT_TLS_TIMEOUT = 5.0
#: RSS after the attack, as a share of the baseline.
RSS_RETURN = 1.10
VERDICT_WAIT = 60.0
SOAK_DEADLINE = 300.0

OVERSIZED = {"huge header": clients.huge_header, "folded header": clients.folded_header}
PLAIN_SIP = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1\r\n\r\n"
GARBAGE = bytes(range(256)) * 8


@dataclass
class Run:
    start_kib: int = 0
    baseline_kib: int = 0
    final_kib: int = 0
    open_failures: Counter[str] = field(default_factory=Counter)
    held: int = 0
    good: list[Made] = field(default_factory=list)
    hostile: list[Made] = field(default_factory=list)
    sampling: clients.Sampling = field(default_factory=clients.Sampling)
    unsettled: int = 0
    phases: list[tuple[str, float]] = field(default_factory=list)
    _since: float = field(default_factory=time.monotonic)

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.phases.append((name, now - self._since))
        self._since = now


def _with_records(made: Sequence[Made]) -> list[Made]:
    """The connections serve keeps records of (not the ones it refused at accept)."""
    return [m for m in made if m.expected]


async def _settled(events: EventsFile, made: Sequence[Made], timeout: float) -> int:
    """Wait until serve has logged the close of every connection in ``made`` (each is
    judged by then: verdicts are per SBC session); how many it has not within
    ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        events.update()
        waiting = sum(1 for claim, records in match(events.connections, _with_records(made))
                      if records is None or not records.kinds["closed"])
        if not waiting or time.monotonic() > deadline:
            return waiting
        await asyncio.sleep(0.2)


async def _accepted(events: EventsFile, ports: list[int], after: int,
                    timeout: float = 10.0) -> bool:
    """Wait until serve has accepted connections from all ``ports`` (with ids above
    ``after``: an earlier connection may have had the same port)."""
    wanted = set(ports)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events.update()
        seen = {records.port for connection, records in events.connections.items()
                if connection > after and records.kinds["tcp-accepted"]}
        if wanted <= seen:
            return True
        await asyncio.sleep(0.1)
    return False


async def _open(server: FileServer, context: ssl.SSLContext, run: Run
                ) -> list[GoodConnection]:
    opened, failures = await clients.open_good(context, server.port, HELD,
                                               HANDSHAKES_AT_ONCE, timeout=60)
    run.open_failures.update(failures)
    return opened


async def _attack(server: FileServer, context: ssl.SSLContext, files: dict[str, Path],
                  run: Run, held: list[GoodConnection]) -> None:
    """Phase 2: the hostile clients, while ``held`` stay open and a sample asks OPTIONS."""
    port, events = server.port, server.events
    stop = asyncio.Event()
    sampler = asyncio.create_task(clients.keep_asking(
        held[:SAMPLED], stop, tasks=SAMPLER_LOOPS, pause=SAMPLE_PAUSE,
        timeout=ANSWER_TIMEOUT))
    events.update()
    mark = max(events.connections, default=0)
    cap = await clients.over_the_cap(
        port, context, HELD + CAP_ROOM - len(held), OVER_CAP_SILENT, OVER_CAP_SBCS,
        REFUSAL_DEADLINE, lambda ports: _accepted(events, ports, mark))
    run.hostile += cap.fillers + cap.refused
    await _settled(events, cap.fillers, VERDICT_WAIT)  # room under the cap again
    slow = [asyncio.create_task(clients.slowloris(
        port, context, SLOWLORIS_INTERVAL, DEFAULT_HEAD_DEADLINE, SLOWLORIS_SLACK))
        for _ in range(SLOWLORIS_CLIENTS)]
    run.hostile += await clients.crafted_certificates(port, files)
    for payload, kind in ((PLAIN_SIP, "plain SIP on the TLS port"), (GARBAGE, "garbage")):
        run.hostile += await asyncio.gather(*(
            clients.not_tls(port, payload, kind, NOT_TLS_TIMEOUT)
            for _ in range(NOT_TLS_CLIENTS)))
    run.hostile += await asyncio.gather(*(
        clients.pipelined_garbage(port, context, PIPELINED, PIPELINED_TIMEOUT)
        for _ in range(PIPELINED_CLIENTS)))
    for kind, chunks in OVERSIZED.items():
        run.hostile += await asyncio.gather(*(
            clients.oversized_head(port, context, kind, chunks(), OVERSIZED_LIMIT,
                                   OVERSIZED_CLOSE_BOUND)
            for _ in range(OVERSIZED_CLIENTS)))
    run.hostile += await asyncio.gather(*(
        clients.keepalive_flood(port, context, FLOOD_BYTES, FLOOD_TIMEOUT)
        for _ in range(FLOOD_CLIENTS)))
    run.hostile += await asyncio.gather(*slow)
    stop.set()
    run.sampling = await sampler


async def _soak(server: FileServer, context: ssl.SSLContext, files: dict[str, Path]
                ) -> Run:
    run = Run()
    pid = server.process.pid
    run.start_kib = await asyncio.to_thread(settled_rss_kib, pid)
    warm = await _open(server, context, run)
    await clients.close_good(warm)
    run.good += [c.made() for c in warm]
    run.unsettled += await _settled(server.events, run.good, VERDICT_WAIT)
    run.baseline_kib = await asyncio.to_thread(settled_rss_kib, pid)
    run.lap("warm-up")
    held = await _open(server, context, run)
    run.held = len(held)
    run.lap("open")
    try:
        await _attack(server, context, files, run, held)
        run.lap("attack")
    finally:
        await clients.close_good(held)
        run.good += [c.made() for c in held]
    run.unsettled += await _settled(server.events, run.good + run.hostile, VERDICT_WAIT)
    run.final_kib = await asyncio.to_thread(settled_rss_kib, pid)
    run.lap("close")
    return run


@pytest.fixture
def sbc_context(sbc_files: SbcFiles, tmp_path: Path) -> ssl.SSLContext:
    bundle = tmp_path / "sbc-with-chain.pem"
    bundle.write_bytes(sbc_files.cert.read_bytes() + sbc_files.chain.read_bytes())
    return loadgen.client_context(bundle, sbc_files.key)


@pytest.fixture
def crafted_files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "crafted"
    folder.mkdir()
    files = {"key": folder / "key.pem"}
    files["key"].write_bytes(key_pem())
    for crafted in crafted_certificates():
        files[crafted.name] = folder / f"{crafted.name}.pem"
        files[crafted.name].write_bytes(crafted.pem)
    return files


def _lost(events: EventsFile, made: Sequence[Made], refusals: int
          ) -> tuple[int, Counter[str]]:
    """Records missing from the events file, in all and by client kind and record kind;
    refusals and keep-alive pings by the counts serve reported."""
    missing: Counter[str] = Counter()
    for claim, records in match(events.connections, _with_records(made)):
        have = records.kinds if records is not None else Counter()
        for kind, count in (claim.expected - have).items():
            missing[f"{claim.kind}: {kind}"] += count
        if claim.kind == "keep-alive flood" and claim.ok:  # answered after every ping
            pings = records.pings if records is not None else 0
            missing["keep-alive flood: pings"] += max(0, FLOOD_BYTES // 4 - pings)
    refused = sum(1 for m in made if m.kind.startswith("over the cap"))
    missing["over the cap: refusals"] = max(0, refused - refusals)
    return sum(missing.values()), +missing


def test_a_thousand_held_connections_outlast_hostile_clients(
        session_store: Path, sbc_context: ssl.SSLContext, crafted_files: dict[str, Path],
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The soak; every check's failure is listed, then the figures are in the summary."""
    fd_limit = loadgen.raise_fd_limit()  # the test process: soft limit to the hard one
    if fd_limit < 2 * (HELD + CAP_ROOM) + 256:
        pytest.fail(f"open-files limit {fd_limit} is too low for the soak: raise the hard "
                    f"limit (ulimit -Hn) to at least {2 * (HELD + CAP_ROOM) + 256}")
    began = time.monotonic()
    with serving_to_files(session_store, tmp_path, "--max-connections",
                          str(HELD + CAP_ROOM)) as server:
        with PeakRss(server.process.pid) as peak:
            run = asyncio.run(asyncio.wait_for(_soak(server, sbc_context, crafted_files),
                                               SOAK_DEADLINE))
        still_serving = server.process.poll() is None
    seconds = time.monotonic() - began
    server.events.update()
    lost, missing = _lost(server.events, run.good + run.hostile, server.refusals())
    sampling = run.sampling
    mib = 1024.0
    keep(request.config, Figures(
        held=run.held, hostile=len(run.hostile), answered=len(sampling.latencies),
        asked=sampling.asked, p99=sampling.quantile(0.99), start_mib=run.start_kib / mib,
        baseline_mib=run.baseline_kib / mib, peak_mib=peak.peak_kib / mib,
        final_mib=run.final_kib / mib, events_lost=lost,
        events_mib=server.events.bytes_read / mib / mib, seconds=seconds,
        phases=tuple(run.phases), latencies=tuple(
            sampling.quantile(q) for q in (0.5, 0.9, 0.99, 1.0)),
        hostile_kinds=tuple(Counter(m.kind for m in run.hostile).items())))

    problems: list[str] = []
    if run.open_failures or run.held != HELD:
        problems.append(f"good connections not opened: {dict(run.open_failures)}")
    if sampling.failures:
        problems.append(f"sampled OPTIONS not answered 200 within {ANSWER_TIMEOUT:g} s: "
                        f"{dict(sampling.failures)} of {sampling.asked}")
    if sampling.asked < MIN_ASKED:
        problems.append(f"only {sampling.asked} sampled OPTIONS (at least {MIN_ASKED})")
    if sampling.quantile(0.99) >= ANSWER_P99_BOUND:
        problems.append(f"p99 answer latency {sampling.quantile(0.99):.2f} s "
                        f"(bound {ANSWER_P99_BOUND:g} s; max {max(sampling.latencies):.2f} s)")
    failed: dict[str, list[str]] = {}
    for made in run.hostile:
        if not made.ok:
            failed.setdefault(made.kind, []).append(made.detail)
    for kind, details in failed.items():
        total = sum(1 for m in run.hostile if m.kind == kind)
        problems.append(f"{kind}: {len(details)} of {total} not handled: {details[0]}")
    pinged = [records.kinds["keepalives"] for claim, records
              in match(server.events.connections, _with_records(run.hostile))
              if claim.kind == "keep-alive flood" and records is not None]
    if any(count > KEEPALIVE_RECORDS_BOUND for count in pinged):
        problems.append(f"keep-alive records per flooding connection: {pinged} (bound "
                        f"{KEEPALIVE_RECORDS_BOUND}): pings logged one by one")
    errors = [(claim.kind, records.kinds["sip-error"]) for claim, records
              in match(server.events.connections, _with_records(run.hostile))
              if claim.kind in OVERSIZED and records is not None
              and records.kinds["sip-error"] > 1]
    if errors:
        problems.append(f"sip-error records after a fatal framing error: {errors} (log "
                        "once, then drop what the peer sends)")
    if run.final_kib > RSS_RETURN * run.baseline_kib:
        problems.append(f"RSS {run.final_kib / mib:.0f} MiB after the attack, baseline "
                        f"{run.baseline_kib / mib:.0f} MiB (bound x{RSS_RETURN:g})")
    if lost or run.unsettled:
        problems.append(f"events lost: {lost} ({dict(missing.most_common(8))}); "
                        f"{run.unsettled} connections without their last record")
    if not still_serving:
        problems.append("serve exited during the soak")
    if noise := server.problems():
        problems.append(f"{len(noise)} traceback lines from serve, first: {noise[0]}")
    assert not problems, "\n".join(problems)
