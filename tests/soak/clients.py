"""The soak's clients, all asyncio on 127.0.0.1: good SBCs that stay connected, and the
hostile peers of issue 12 items 1-7, each bounded by a count, a size and a deadline.

Every connection is remembered as a :class:`Made`: its local port (serve logs it as the
peer's), when it was made, and the records serve must have written for it, so the test
can count events lost. ``ok`` says whether serve treated it as the issue requires.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from OpenSSL import SSL

from benchmarks.loadgen import options_request, read_response
from tests.crafted import Crafted, swapped_certificate_handshake
from tests.crafted import crafted_certificates as crafted_certificates_table
from tests.net.test_sip_protocol_live import tiny_malformed

HOST = "127.0.0.1"
_ORDER = itertools.count()


@dataclass
class Made:
    """One connection the soak made and the records serve owes it, by kind."""

    kind: str
    port: int
    order: int
    expected: Counter[str]
    ok: bool = True
    detail: str = ""


def envelope(tls: str | None, **more: int) -> Counter[str]:
    """The records every accepted connection gets (``tls``: ``tls-established`` or
    ``tls-failed``; ``None``: it sent no byte, a port check), and ``more``. (Verdicts are
    per SBC session, not per connection.)"""
    return Counter({"tcp-accepted": 1, **({tls: 1} if tls else {}), "closed": 1, **more})


@dataclass
class Link:
    """A connection to serve: the local port it came from, and its streams once TCP
    (and TLS, when asked for) succeeded."""

    port: int
    order: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


class LinkError(Exception):
    """TCP or TLS did not complete; ``port`` is the local port (0: no socket connected)."""

    def __init__(self, port: int, order: int, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.port = port
        self.order = order


async def connect(port: int, context: ssl.SSLContext | None, timeout: float = 15.0) -> Link:
    """TCP to 127.0.0.1:``port`` from a socket of our own, so its local port is known
    even when the TLS handshake (``context``) then fails."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    local, order = 0, next(_ORDER)
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, (HOST, port))
            local, order = sock.getsockname()[1], next(_ORDER)
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=context, server_hostname="" if context else None)
    except (OSError, ssl.SSLError, TimeoutError) as error:
        sock.close()
        raise LinkError(local, order, error) from error
    return Link(local, order, reader, writer)


async def _hang_up(writer: asyncio.StreamWriter, *, abort: bool = False) -> None:
    if abort:
        writer.transport.abort()
        return
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
        async with asyncio.timeout(5):
            await writer.wait_closed()


async def _closed_by_server(reader: asyncio.StreamReader, timeout: float) -> bool:
    """Whether the server ends the connection within ``timeout`` (what it sends before,
    if anything, is read and dropped)."""
    try:
        async with asyncio.timeout(timeout):
            while await reader.read(65536):
                pass
        return True
    except TimeoutError:  # before OSError, of which it is a subclass
        return False
    except (OSError, ssl.SSLError):
        return True


# --- good SBCs ------------------------------------------------------------------------


@dataclass
class GoodConnection:
    """A mutual-TLS connection of a correct SBC, kept open; counts what it asked."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    port: int
    order: int
    sent: int = 0
    answered: int = 0

    @classmethod
    async def open(cls, context: ssl.SSLContext, port: int, timeout: float
                   ) -> GoodConnection:
        link = await connect(port, context, timeout)
        connection = cls(link.reader, link.writer, link.port, link.order)
        try:
            await connection.options(timeout)
        except BaseException:
            link.writer.transport.abort()
            raise
        return connection

    async def options(self, timeout: float) -> float:
        """Send one OPTIONS; the seconds its 200 OK took (anything else raises)."""
        started = time.monotonic()
        self.writer.write(options_request())
        self.sent += 1
        async with asyncio.timeout(timeout):
            status = await read_response(self.reader)
        if status != 200:
            raise AssertionError(f"OPTIONS answered {status}")
        self.answered += 1
        return time.monotonic() - started

    def made(self) -> Made:
        return Made("good", self.port, self.order, envelope("tls-established", **{
            "sip-request": self.sent, "sip-response": self.answered}))


async def open_good(context: ssl.SSLContext, port: int, count: int, concurrency: int,
                    timeout: float) -> tuple[list[GoodConnection], Counter[str]]:
    """``count`` connections, each answered 200 to its first OPTIONS, ``concurrency``
    handshakes at a time; the ones that failed, by error."""
    gate = asyncio.Semaphore(concurrency)
    opened: list[GoodConnection] = []
    failures: Counter[str] = Counter()

    async def one() -> None:
        async with gate:
            try:
                opened.append(await GoodConnection.open(context, port, timeout))
            except Exception as error:  # counted by type, reported by the test
                failures[f"{type(error).__name__}: {error}"[:120]] += 1

    await asyncio.gather(*(one() for _ in range(count)))
    return opened, failures


async def close_good(connections: Iterable[GoodConnection]) -> None:
    await asyncio.gather(*(_hang_up(c.writer) for c in connections))


@dataclass
class Sampling:
    """What the sampled good connections got while the hostile clients ran."""

    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def asked(self) -> int:
        return len(self.latencies) + sum(self.failures.values())

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def keep_asking(connections: list[GoodConnection], stop: asyncio.Event, *,
                      tasks: int, pause: float, timeout: float) -> Sampling:
    """``tasks`` loops, each going round-robin over its share of ``connections``: one
    OPTIONS at a time, ``pause`` seconds apart, until ``stop``. A connection whose
    request failed is left out from then on (its stream is no longer in step)."""
    sampling = Sampling()

    async def loop(share: list[GoodConnection]) -> None:
        while share and not stop.is_set():
            for connection in list(share):
                if stop.is_set():
                    return
                try:
                    sampling.latencies.append(await connection.options(timeout))
                except Exception as error:  # counted; the test asserts there are none
                    sampling.failures[type(error).__name__] += 1
                    share.remove(connection)
                await asyncio.sleep(pause)

    await asyncio.gather(*(loop(connections[i::tasks]) for i in range(tasks)))
    return sampling


# --- hostile peers -------------------------------------------------------------------


def _present_certificate(port: int, crafted: Crafted, files: dict[str, Path]
                         ) -> tuple[int, int, str]:
    """One TLS 1.2 handshake presenting ``crafted`` (pyOpenSSL: Python's ssl will not
    load some of them as its own); the local port, the order and how it ended."""
    with socket.create_connection((HOST, port), timeout=10) as sock:
        local, order = sock.getsockname()[1], next(_ORDER)
        if not crafted.owns_key:
            return local, order, swapped_certificate_handshake(port, crafted.der, sock=sock)
        context = SSL.Context(SSL.TLS_CLIENT_METHOD)
        context.set_max_proto_version(SSL.TLS1_2_VERSION)
        context.use_certificate_file(str(files[crafted.name]))
        context.use_privatekey_file(str(files["key"]))
        tls = SSL.Connection(context, sock)
        tls.set_connect_state()
        try:
            tls.do_handshake()  # TLS 1.2: the server judges our certificate before its Finished
        except (SSL.Error, OSError) as error:
            return local, order, f"failed: {error}"
        return local, order, "completed"


async def crafted_certificates(port: int, files: dict[str, Path]) -> list[Made]:
    """Item 1: one handshake per crafted client certificate of :mod:`tests.crafted`.
    serve refuses each (they are self-signed) and must still take every connection to
    its verdict: a report that raised used to leave it in the active set for good."""
    made = []
    for crafted in crafted_certificates_table():
        local, order, outcome = await asyncio.to_thread(_present_certificate, port, crafted,
                                                        files)
        refused = outcome != "completed"
        made.append(Made("crafted certificate", local, order,
                         envelope("tls-failed" if refused else "tls-established"), refused,
                         f"{crafted.name}: " + (outcome if refused else "accepted")))
    return made


async def not_tls(port: int, payload: bytes, kind: str, timeout: float) -> Made:
    """Plain SIP or garbage on the TLS port: refused as not TLS, closed by serve."""
    link = await connect(port, None)
    link.writer.write(payload)
    closed = await _closed_by_server(link.reader, timeout)
    await _hang_up(link.writer, abort=True)
    return Made(kind, link.port, link.order, envelope("tls-failed"), closed,
                "" if closed else f"still open {timeout:g} s after {len(payload)} bytes")


@dataclass
class CapResult:
    fillers: list[Made]
    refused: list[Made]


async def over_the_cap(port: int, context: ssl.SSLContext, room: int, silent: int,
                       sbcs: int, refusal_deadline: float,
                       accepted: Callable[[list[int]], Awaitable[bool]]) -> CapResult:
    """Item 2: ``room`` silent TCP connections fill the cap; then ``silent`` more
    silent ones and ``sbcs`` good SBCs come over it. A refused connection must be
    closed at accept, before TLS, within ``refusal_deadline``: one that is not holds a
    file descriptor, and an SBC must not complete a TLS handshake that serves nothing.
    They come one at a time, so each is accepted alone (Twisted's accept loop drops
    the rest of a batch when one raises, which would close them by accident).
    ``accepted(ports)`` waits until serve has logged those connections as accepted."""
    fillers = [await connect(port, None) for _ in range(room)]
    filled = await accepted([link.port for link in fillers])
    waits: list[tuple[Link, asyncio.Task[bool]]] = []
    for _ in range(silent):
        link = await connect(port, None)
        waits.append((link, asyncio.create_task(
            _closed_by_server(link.reader, refusal_deadline))))
        await asyncio.sleep(0.02)
    refused: list[Made] = []
    refusal: Counter[str] = Counter()  # counted over all connections: EventsFile.refused
    for _ in range(sbcs):
        try:
            link = await connect(port, context, refusal_deadline)
        except LinkError as failed:
            refused.append(Made("over the cap, SBC", failed.port, failed.order, refusal))
            continue
        refused.append(Made("over the cap, SBC", link.port, link.order, refusal, False,
                            "its TLS handshake completed over the cap"))
        await _hang_up(link.writer, abort=True)
    for link, closing in waits:
        closed = await closing
        refused.append(Made("over the cap, silent", link.port, link.order, refusal, closed,
                            "" if closed else
                            f"still open {refusal_deadline:g} s after it was refused"))
        await _hang_up(link.writer, abort=True)
    for link in fillers:
        await _hang_up(link.writer, abort=True)
    made = [Made("cap filler", link.port, link.order, envelope(None), filled,
                 "" if filled else "serve did not log it as accepted")
            for link in fillers]
    return CapResult(made, refused)


async def pipelined_garbage(port: int, context: ssl.SSLContext, count: int,
                            timeout: float) -> Made:
    """Item 3: ``count`` malformed requests and one OPTIONS in one write (one TLS
    record of under 16 KB): each malformed one gets its 400, in order, then the 200."""
    link = await connect(port, context)
    payload = b"".join(tiny_malformed(n) for n in range(count)) + options_request()
    link.writer.write(payload)
    statuses: list[int] = []
    try:
        async with asyncio.timeout(timeout):
            while len(statuses) < count + 1:
                statuses.append(await read_response(link.reader))
    except (OSError, ssl.SSLError, TimeoutError, asyncio.IncompleteReadError):
        pass
    await _hang_up(link.writer, abort=True)
    ok = statuses == [400] * count + [200]
    return Made("pipelined garbage", link.port, link.order, envelope(
        "tls-established", **{"sip-error": count, "sip-request": 1,
                              "sip-response": int(statuses[-1:] == [200])}),
        ok, "" if ok else f"{len(statuses)} answers of {count + 1} within {timeout:g} s "
                          f"({Counter(statuses)})")


async def keepalive_flood(port: int, context: ssl.SSLContext, size: int,
                          timeout: float) -> Made:
    """Item 4: ``size`` bytes of CRLFCRLF pings (RFC 5626 §4.4.1), then an OPTIONS that
    must still be answered 200 within ``timeout``; the pongs are read as they come."""
    link = await connect(port, context)
    answered = asyncio.Event()

    async def read() -> None:
        seen = b""
        while not answered.is_set():
            data = await link.reader.read(65536)
            if not data:
                return
            seen = seen[-64:] + data
            if b"SIP/2.0 200" in seen:
                answered.set()

    reading = asyncio.create_task(read())
    chunk = b"\r\n\r\n" * 16384
    sent = 0
    try:
        async with asyncio.timeout(timeout):
            while sent < size:
                link.writer.write(chunk)
                sent += len(chunk)
                await link.writer.drain()
            link.writer.write(options_request())
            await answered.wait()
    except (OSError, ssl.SSLError, TimeoutError):
        pass
    reading.cancel()
    with contextlib.suppress(asyncio.CancelledError, OSError, ssl.SSLError):
        await reading
    await _hang_up(link.writer, abort=True)
    ok = answered.is_set()
    return Made("keep-alive flood", link.port, link.order, envelope(
        "tls-established", **({"sip-request": 1, "sip-response": 1} if ok else {})),
        ok, "" if ok else f"no 200 within {timeout:g} s after {sent:,} bytes of pings")


async def _tls_that_ignores_close_notify(port: int, context: ssl.SSLContext
                                        ) -> tuple[Link, ssl.SSLObject, ssl.MemoryBIO]:
    """A TLS connection whose records go through memory: after the handshake nothing
    serve sends is decrypted, so its close_notify goes unseen and the client keeps
    writing, as the lingering peers of item 6 did (asyncio's own TLS would answer it
    and close)."""
    link = await connect(port, None)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing)
    async with asyncio.timeout(15):
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                link.writer.write(outgoing.read())
                data = await link.reader.read(65536)
                if not data:
                    raise ConnectionResetError("serve closed during the handshake") from None
                incoming.write(data)
    link.writer.write(outgoing.read())
    return link, tls, outgoing


async def oversized_head(port: int, context: ssl.SSLContext, kind: str,
                         chunks: Iterator[bytes], limit: int, close_bound: float) -> Made:
    """Items 6 and 7: a head far over serve's limits, written until serve closes the
    connection or ``limit`` bytes went out, by a peer that does not hear close_notify.
    serve must cut it off once (one sip-error) and close the connection within
    ``close_bound`` of the first byte, however the peer keeps sending."""
    link, tls, outgoing = await _tls_that_ignores_close_notify(port, context)
    started = time.monotonic()
    closed = asyncio.create_task(_closed_by_server(link.reader, close_bound))
    sent = 0
    with contextlib.suppress(OSError, ssl.SSLError):
        for chunk in chunks:
            if closed.done() or sent >= limit:
                break
            tls.write(chunk)
            link.writer.write(outgoing.read())
            sent += len(chunk)
            async with asyncio.timeout(close_bound):
                await link.writer.drain()
    ok = await closed
    elapsed = time.monotonic() - started
    await _hang_up(link.writer, abort=True)
    return Made(kind, link.port, link.order, envelope("tls-established", **{"sip-error": 1}),
                ok, f"closed after {elapsed:.1f} s, {sent:,} bytes sent" if ok else
                f"still open {close_bound:g} s after the first byte ({sent:,} bytes sent)")


def huge_header(size: int = 16384) -> Iterator[bytes]:
    """One header line that never ends."""
    yield options_request().split(b"Content-Length")[0] + b"X-Huge: "
    while True:
        yield b"a" * size


def folded_header(size: int = 16384) -> Iterator[bytes]:
    """One header folded over a continuation line every 4 bytes (item 7: unfolding was
    quadratic, and the size checked only after it)."""
    yield options_request().split(b"Content-Length")[0] + b"X-Folded: a"
    while True:
        yield b"\r\n a" * (size // 4)


async def slowloris(port: int, context: ssl.SSLContext, interval: float,
                    head_deadline: float, slack: float) -> Made:
    """Item 5: an OPTIONS one byte every ``interval`` seconds, which resets the idle
    timer every time; serve must close it at its head deadline (not before, and
    within ``slack`` after), and report the limit."""
    link = await connect(port, context)
    closed = asyncio.create_task(_closed_by_server(link.reader, head_deadline + slack))
    started = time.monotonic()
    with contextlib.suppress(OSError, ssl.SSLError):
        for index, byte in enumerate(options_request()):
            link.writer.write(bytes([byte]))
            if index == 0:
                started = time.monotonic()
            done, _ = await asyncio.wait([closed], timeout=interval)
            if done:
                break
    by_server = await closed
    elapsed = time.monotonic() - started
    await _hang_up(link.writer, abort=True)
    ok = by_server and elapsed >= head_deadline - 0.5
    expected = envelope("tls-established", **({"limit": 1} if by_server else {}))
    return Made("slowloris", link.port, link.order, expected, ok,
                f"closed after {elapsed:.1f} s" if by_server else
                f"still open {elapsed:.1f} s after its first byte")
