# -*- test-case-name: tests.net.test_endpoints -*-
"""Where fakepeer listens and dials, as Twisted's own endpoints.

Listeners are built from endpoint description strings (``serverFromString``), the form a
command line or an application service hands around; Twisted's TCP endpoints take an
IPv4 or IPv6 interface alike, so nothing here chooses between address families. Dialling
goes through ``HostnameEndpoint``, which does the same for the address dialled.
"""

from __future__ import annotations

from twisted.internet.endpoints import HostnameEndpoint, serverFromString
from twisted.internet.interfaces import IReactorTCP, IStreamClientEndpoint, IStreamServerEndpoint

from fakepeer.net.reactors import IDialReactor


def _quoted(value: str) -> str:
    """A value inside an endpoint description: ``:``, ``=`` and ``\\`` escaped."""
    return value.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")


def server_description(host: str, port: int, *, backlog: int | None = None) -> str:
    """``tcp:port=5061:interface=0.0.0.0`` (an IPv6 interface escaped: ``\\:\\:1``)."""
    text = f"tcp:port={port}:interface={_quoted(host)}"
    return text + (f":backlog={backlog}" if backlog is not None else "")


def server_endpoint(reactor: IReactorTCP, host: str, port: int, *,
                    backlog: int | None = None) -> IStreamServerEndpoint:
    """The listening endpoint for ``host``:``port`` (see :func:`server_description`)."""
    endpoint: IStreamServerEndpoint = serverFromString(
        reactor, server_description(host, port, backlog=backlog))
    return endpoint


def client_endpoint(reactor: IDialReactor, host: str, port: int, *,
                    timeout: float) -> IStreamClientEndpoint:
    """The endpoint that dials ``host`` (an address or a name) on ``port``, giving up the
    TCP connect after ``timeout`` seconds."""
    return HostnameEndpoint(reactor, host, port, timeout=timeout)
