"""A bounded SIP-over-TLS load generator (asyncio + ssl), for the robustness test and
the benchmark. Every run has a connection count and a deadline; it only dials the
address it is given, which callers keep on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import resource
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

_CALL_IDS = itertools.count(1)


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one: 1,000+ sockets need it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 16
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


def client_context(cert_chain: Path | None, key: Path | None, *, ciphers: str | None = None
                   ) -> ssl.SSLContext:
    """TLS 1.2 client context; server verification off (the load is not the test)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    if ciphers:
        context.set_ciphers(ciphers)
    if cert_chain is not None:
        context.load_cert_chain(cert_chain, key)
    return context


def options_request(fqdn: str = "sbc.lab.example", target: str = "sip.pstnhub.microsoft.com"
                    ) -> bytes:
    n = next(_CALL_IDS)
    return (
        f"OPTIONS sip:{target}:5061;transport=tls SIP/2.0\r\n"
        f"Via: SIP/2.0/TLS {fqdn}:5061;branch=z9hG4bK-load-{n}\r\n"
        f"From: <sip:{fqdn}:5061;transport=tls>;tag=load{n}\r\n"
        f"To: <sip:{target}>\r\nCall-ID: load-{n}@{fqdn}\r\nCSeq: {n} OPTIONS\r\n"
        f"Contact: <sip:{fqdn}:5061;transport=tls>\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    for line in head.split(b"\r\n"):
        if line.lower().startswith((b"content-length:", b"l:")):
            length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
    return status


@dataclass
class RunResult:
    attempted: int
    ok: int = 0
    failed: int = 0
    elapsed: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    def note(self, error: BaseException) -> None:
        key = type(error).__name__
        self.errors[key] = self.errors.get(key, 0) + 1
        self.failed += 1


async def _one_connection(host: str, port: int, context: ssl.SSLContext, requests: int,
                          result: RunResult, timeout: float, graceful: bool = True) -> None:
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=context,
                                                           server_hostname=None)
            try:
                for _ in range(requests):
                    writer.write(options_request())
                    status = await read_response(reader)
                    if status == 200:
                        result.ok += 1
                    else:
                        result.failed += 1
            finally:
                if graceful:
                    writer.close()
                    with contextlib.suppress(ssl.SSLError, ConnectionError):
                        await writer.wait_closed()
                else:
                    writer.transport.abort()
    except Exception as error:  # counted, reported by type
        result.note(error)


async def new_connections(host: str, port: int, context: ssl.SSLContext, count: int,
                          concurrency: int, *, timeout: float = 30.0,
                          graceful: bool = True) -> RunResult:
    """``count`` connections, each a full handshake and one OPTIONS, ``concurrency`` at once.

    ``graceful=False`` resets each connection after its answer instead of exchanging
    close_notify, so a server slow to close does not stall the measurement.
    """
    result = RunResult(count)
    gate = asyncio.Semaphore(concurrency)

    async def worker() -> None:
        async with gate:
            await _one_connection(host, port, context, 1, result, timeout, graceful)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(count)))
    result.elapsed = time.perf_counter() - start
    return result


async def persistent(host: str, port: int, context: ssl.SSLContext, connections: int,
                     requests_each: int, *, timeout: float = 60.0) -> RunResult:
    """``connections`` long-lived connections, each sending ``requests_each`` OPTIONS in turn."""
    result = RunResult(connections * requests_each)
    start = time.perf_counter()
    await asyncio.gather(*(_one_connection(host, port, context, requests_each, result, timeout)
                           for _ in range(connections)))
    result.elapsed = time.perf_counter() - start
    return result


class IdleConnections:
    """Open ``count`` TLS connections that send one OPTIONS and then stay idle."""

    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []

    async def open(self, host: str, port: int, context: ssl.SSLContext, count: int,
                   concurrency: int = 100, timeout: float = 60.0) -> RunResult:
        result = RunResult(count)
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                try:
                    async with asyncio.timeout(timeout):
                        reader, writer = await asyncio.open_connection(host, port, ssl=context)
                        writer.write(options_request())
                        if await read_response(reader) == 200:
                            result.ok += 1
                        self.writers.append(writer)
                except Exception as error:  # counted
                    result.note(error)

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        result.elapsed = time.perf_counter() - start
        return result

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        await asyncio.sleep(0.1)
