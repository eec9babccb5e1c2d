"""The options of fakepeer's outbound connections, for ``probe`` and for ``serve``'s
dial-back: the trust, EKU rule and timeout options and ``--sbc`` mappings, read into the
settings :mod:`fakepeer.app.outbound` dials with."""

from __future__ import annotations

import argparse
from pathlib import Path

from cryptography import x509

from fakepeer.addresses import SIP_TLS_PORT, AddressError, is_ip_address, parse_host_port
from fakepeer.app.outbound import DialbackSettings, OutboundSettings
from fakepeer.cli.options import parse_now
from fakepeer.errors import ConfigError
from fakepeer.tls.keylog import KeyLog

_EKU_RULES = ("serverAuth", "serverAuth+clientAuth", "clientAuth", "any")


def add_outbound_options(parser: argparse.ArgumentParser,
                         timeout_flag: str = "--timeout") -> None:
    """Options shared by ``probe`` and ``serve``'s dial-back: trust, EKU rule, timeout.

    ``serve`` passes ``timeout_flag="--dialback-timeout"``, since its other timeouts are
    about inbound connections; the value lands in ``args.timeout`` either way.
    """
    group = parser.add_argument_group("outbound connections (fakepeer dials the SBC)")
    group.add_argument("--trust", action="append", type=Path, default=[], metavar="FILE",
                       help="extra PEM roots the SBC's certificate may chain to (repeatable; "
                            "the system's public roots and the mirrored roots always count)")
    group.add_argument("--sbc-eku", choices=_EKU_RULES, default=None,
                       help="EKU the SBC's certificate must carry (default: the era's rule)")
    group.add_argument("--from-host", default=None, metavar="NAME",
                       help="host in From/Via/Contact of fakepeer's OPTIONS (default "
                            "sip-du-a-us.pstnhub.microsoft.com for microsoft)")
    group.add_argument(timeout_flag, dest="timeout", type=float, default=5.0, metavar="S",
                       help="seconds per phase: TCP connect, TLS handshake, SIP answer "
                            "(default 5)")


def add_dialback_options(parser: argparse.ArgumentParser) -> None:
    """``serve``'s dial-back options (``add_outbound_options`` must be added too)."""
    group = parser.add_argument_group("dial-back (after a 200 OK, fakepeer dials the SBC's "
                                      "Contact as the real proxy does)")
    group.add_argument("--dialback", action=argparse.BooleanOptionalAction, default=None,
                       help="dial the Contact FQDN and port after each accepted OPTIONS "
                            "(default: as the scenario's sip.dialback says)")
    group.add_argument("--sbc", action="append", default=[], metavar="FQDN=ADDRESS:PORT",
                       help="where to dial a Contact FQDN, for labs without DNS (repeatable; "
                            "implies --dialback)")


def sbc_address(text: str) -> tuple[str, int]:
    """An SBC's ``HOST[:PORT]`` (port 5061 by default); a bad one is a ConfigError."""
    try:
        return parse_host_port(text, default_port=SIP_TLS_PORT)
    except AddressError as exc:
        raise ConfigError(str(exc)) from None


def parse_sbc_mapping(items: list[str]) -> dict[str, tuple[str, int]]:
    """``--sbc FQDN=ADDRESS:PORT`` values -> {fqdn: (address, port)}; the address must be
    an IP address (the point is to avoid DNS)."""
    mapping: dict[str, tuple[str, int]] = {}
    for item in items:
        name, eq, where = item.partition("=")
        if not eq or not name.strip():
            raise ConfigError(f"--sbc {item!r}: expected FQDN=ADDRESS:PORT")
        address, port = sbc_address(where)
        if not is_ip_address(address):
            raise ConfigError(f"--sbc {item!r}: {address!r} is not an IP address")
        mapping[name.strip().lower().rstrip(".")] = (address, port)
    return mapping


def load_trust(paths: list[Path]) -> tuple[x509.Certificate, ...]:
    """Every certificate in the ``--trust`` files; a file without one is an error."""
    from fakepeer.tls.inspect import parse_pem_bundle

    roots: list[x509.Certificate] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"--trust {path}: {exc.strerror or exc}") from None
        found = parse_pem_bundle(data, path)
        if not found.roots:
            raise ConfigError(f"--trust {path}: no PEM certificate in it")
        roots.extend(found.roots)
    return tuple(roots)


def outbound_settings(args: argparse.Namespace, keylog: KeyLog | None = None
                      ) -> OutboundSettings:
    """The outbound options given: extra trust, the EKU rule, the From host, the timeout
    and ``--now``; ``keylog`` the key log the command opened."""
    if args.timeout <= 0:
        raise ConfigError(f"--timeout {args.timeout:g}: must be positive")
    return OutboundSettings(extra_trust=load_trust(args.trust), sbc_eku=args.sbc_eku,
                            from_host=args.from_host, timeout=args.timeout,
                            now=parse_now(args.now) if args.now else None, keylog=keylog)


def dialback_settings(args: argparse.Namespace, keylog: KeyLog | None = None
                      ) -> DialbackSettings:
    """``serve``'s dial-back options: ``--dialback``/``--no-dialback``, ``--sbc`` (which
    implies ``--dialback``) and the outbound options."""
    wanted = False if args.dialback is False else (True if args.dialback or args.sbc
                                                   else None)
    return DialbackSettings(wanted=wanted, sbc_map=parse_sbc_mapping(args.sbc),
                            outbound=outbound_settings(args, keylog))
