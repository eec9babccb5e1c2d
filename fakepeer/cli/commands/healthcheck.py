"""``fakepeer healthcheck``: act as a lab SBC against a running ``fakepeer serve``.

A container's HEALTHCHECK (and anyone scripting a lab) needs more than "the port is
open": the proxy is only useful if it completes mutual TLS with an SBC certificate it
trusts and answers OPTIONS. So this command does exactly what a correctly configured SBC
does: TLS 1.2 with a lab SBC certificate issued from the same store, then OPTIONS with the
SBC's FQDN in Contact, and succeeds only on ``200 OK`` within the timeout.

It deliberately does not verify the served chain: many scenarios serve a broken chain on
purpose, and a healthy proxy serving one is still healthy. Callers that want the chain
checked (the container test does) pass their own :class:`ssl.SSLContext` to :func:`ping`.

It uses the standard library's blocking ``ssl`` so that it runs in a fraction of a
second, without starting a reactor, every 30 seconds inside the container, and
:mod:`fakepeer.sip` (sans-I/O) to write the OPTIONS and read the answer over it.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import socket
import ssl
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fakepeer import sip
from fakepeer.addresses import ANY_HOST, AddressError, parse_host_port
from fakepeer.cli.environment import Environment
from fakepeer.cli.options import add_store_options, open_pki
from fakepeer.cli.status import ExitStatus
from fakepeer.errors import ConfigError
from fakepeer.pki import export
from fakepeer.pki.chain import ServedChain
from fakepeer.pki.keys import private_key_pem
from fakepeer.pki.situation import sbc_chain
from fakepeer.report.sessions import HEALTHCHECK_FQDN, HEALTHCHECK_USER_AGENT

DEFAULT_ADDRESS = "127.0.0.1:5061"
DEFAULT_TIMEOUT = 5.0
TARGET = "sip.pstnhub.microsoft.com"
_CALL_IDS = itertools.count(1)
#: How the healthcheck writes SIP: as a plain RFC 3261 SBC (canonical header names), with
#: a User-Agent that says what it is.
_SBC_STYLE = sip.SipProfile(name="healthcheck", server_product=HEALTHCHECK_USER_AGENT)
#: serve listens on every interface in a container; the healthcheck dials loopback.
_LOOPBACK_FOR_WILDCARD = {ANY_HOST: "127.0.0.1", "::": "::1"}


class ProbeError(Exception):
    """The peer did not answer OPTIONS with a final response; the message says where it
    stopped (connect, handshake, send, read), for a one-line report."""


@dataclass(frozen=True, slots=True)
class Answer:
    """The final response to the OPTIONS, and what the TLS handshake produced."""

    status: int
    reason: str
    tls_version: str
    cipher: str
    peer_chain_der: tuple[bytes, ...]
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.status == 200


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "healthcheck", help="act as a lab SBC: mutual TLS and OPTIONS against a fakepeer",
        description="Connect to a running fakepeer as a lab SBC would (TLS 1.2 with a lab "
                    f"SBC certificate for {HEALTHCHECK_FQDN} issued from the store, then "
                    "OPTIONS) and exit 0 only if it answers 200 OK in time. The served "
                    "chain is not verified: a scenario may serve a broken one on purpose.")
    parser.add_argument("address", nargs="?", default=None, metavar="HOST:PORT",
                        help=f"where fakepeer listens (default {DEFAULT_ADDRESS}, or the "
                             "port of $FAKEPEER_LISTEN on loopback)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"give up after this long in all (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--fqdn", default=HEALTHCHECK_FQDN,
                        help="the SBC FQDN for the certificate and the Contact header")
    parser.add_argument("--no-client-cert", action="store_true",
                        help="offer no client certificate (for scenarios that ask for none)")
    add_store_options(parser)
    parser.set_defaults(runner=_run)


def target_address(text: str | None, variables: dict[str, str]) -> tuple[str, int]:
    """The address to dial: ``text``, else ``$FAKEPEER_LISTEN`` with a wildcard host turned
    into loopback (serve listens on 0.0.0.0 in a container; we dial 127.0.0.1), else
    127.0.0.1:5061."""
    given = text or variables.get("FAKEPEER_LISTEN") or DEFAULT_ADDRESS
    try:
        host, port = parse_host_port(given, default_host=ANY_HOST)
    except AddressError as exc:
        raise ConfigError(f"healthcheck address {exc}") from None
    return _LOOPBACK_FOR_WILDCARD.get(host, host), port


def options_request(fqdn: str, target: str = TARGET) -> bytes:
    """An OPTIONS as a Teams-certified SBC sends it: its FQDN in Via, From and Contact.
    The Request-URI names port 5061 whatever port was dialled, as behind a published
    container port the SBC still believes it talks to the proxy's 5061."""
    n = next(_CALL_IDS)
    tag = f"{os.getpid()}-{n}"
    request = sip.build_options(_SBC_STYLE, f"sip:{target}:5061;transport=tls", via_host=fqdn,
                                from_host=fqdn, cseq=n, call_id=f"health-{tag}@{fqdn}",
                                from_tag=f"health{tag}", branch=f"-health-{tag}")
    return sip.to_bytes(request)


def client_context(client: ServedChain | None, *, trust: tuple[bytes, ...] = (),
                   ) -> ssl.SSLContext:
    """A TLS 1.2 client context presenting ``client`` (leaf + chain) if given.

    With ``trust`` (PEM bytes of roots) the served chain is verified against them (and the
    caller should pass ``server_hostname`` to :func:`ping`); without, it is not checked.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    if trust:
        context.load_verify_locations(cadata=b"".join(trust).decode())
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client is not None:
        # ssl loads certificates and keys only from files: a private folder, gone at once.
        with tempfile.TemporaryDirectory(prefix="fakepeer-health-") as folder:
            chain = Path(folder) / "chain.pem"
            key = Path(folder) / "key.pem"
            chain.write_bytes(export.pem(client.sent))
            key.touch(mode=0o600)
            key.write_bytes(private_key_pem(client.key))
            context.load_cert_chain(chain, key)
    return context


def _read_response(conn: ssl.SSLSocket, deadline: float) -> tuple[int, str]:
    """Read until a final response (>= 200); 1xx, keep-alives and requests are skipped
    as an SBC would."""
    stream = sip.SipConnection()
    received = b""
    while True:
        try:
            event = stream.next_event()
        except sip.RemoteSipError as exc:
            raise ProbeError(f"not a SIP response: {exc.message}") from None
        if event is sip.NEED_DATA:
            conn.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = conn.recv(16384)
            received = (received + chunk)[:60]
            stream.receive_data(chunk)
        elif isinstance(event, sip.ConnectionClosed):
            raise ProbeError("the peer closed the connection without a final answer"
                             + (f" (got {received!r})" if received else ""))
        elif isinstance(event, sip.Response) and event.status >= 200:
            return event.status, event.reason


def ping(host: str, port: int, context: ssl.SSLContext, *, fqdn: str = HEALTHCHECK_FQDN,
         timeout: float = DEFAULT_TIMEOUT, server_hostname: str | None = None) -> Answer:
    """Connect, handshake, send one OPTIONS and return the final answer; everything
    within ``timeout`` seconds. Raises :class:`ProbeError` saying which step failed."""
    start = time.monotonic()
    deadline = start + timeout
    step = f"connect to {host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            step = "TLS handshake"
            raw.settimeout(max(0.01, deadline - time.monotonic()))
            with context.wrap_socket(raw, server_hostname=server_hostname) as conn:
                version, cipher = conn.version() or "?", (conn.cipher() or ("?",))[0]
                chain = _peer_chain(conn)
                step = "send OPTIONS"
                conn.settimeout(max(0.01, deadline - time.monotonic()))
                conn.sendall(options_request(fqdn, server_hostname or TARGET))
                step = "wait for the answer to OPTIONS"
                status, reason = _read_response(conn, deadline)
                _close_cleanly(conn, deadline)
    except ProbeError as exc:
        raise ProbeError(f"{step}: {exc}") from None
    except TimeoutError:
        raise ProbeError(f"{step}: no progress within {timeout:g}s") from None
    except ssl.SSLError as exc:
        raise ProbeError(f"{step}: {exc.reason or exc}") from None
    except OSError as exc:
        raise ProbeError(f"{step}: {exc.strerror or exc}") from None
    return Answer(status, reason, version, cipher, chain, time.monotonic() - start)


def _close_cleanly(conn: ssl.SSLSocket, deadline: float) -> None:
    """Send close_notify as a well-behaved SBC does, so the proxy's report shows a clean
    close; a peer that does not answer it in time changes nothing about the verdict."""
    conn.settimeout(max(0.01, min(1.0, deadline - time.monotonic())))
    with contextlib.suppress(OSError):
        conn.unwrap()


def _peer_chain(conn: ssl.SSLSocket) -> tuple[bytes, ...]:
    """The certificates the server sent, DER, leaf first (the leaf alone before 3.13)."""
    getter = getattr(conn, "get_unverified_chain", None)
    if getter is not None:  # Python 3.13+
        return tuple(getter())
    leaf = conn.getpeercert(binary_form=True)
    return (leaf,) if leaf else ()


def _run(args: argparse.Namespace, env: Environment) -> ExitStatus:
    if args.timeout <= 0:
        raise ConfigError("--timeout must be positive")
    host, port = target_address(args.address, env.variables)
    client = None
    if not args.no_client_cert:
        client = sbc_chain(open_pki(args, env.variables, env.cwd), (args.fqdn,))
    try:
        answer = ping(host, port, client_context(client), fqdn=args.fqdn,
                      timeout=args.timeout)
    except ProbeError as exc:
        env.warn(f"fakepeer healthcheck: unhealthy: {host}:{port}: {exc}")
        return ExitStatus.ERROR  # 1 is what Docker and podman read as "unhealthy"
    if not answer.ok:
        env.warn(f"fakepeer healthcheck: unhealthy: {host}:{port} answered OPTIONS with "
                 f"{answer.status} {answer.reason}".rstrip())
        return ExitStatus.ERROR
    env.say(f"fakepeer healthcheck: healthy: {host}:{port} answered OPTIONS with "
            f"{answer.status} {answer.reason} over {answer.tls_version} "
            f"({answer.cipher}) in {answer.elapsed * 1000:.0f} ms".rstrip())
    return ExitStatus.SUCCESS
