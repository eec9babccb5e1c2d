"""Options several commands share (the store, its variant, the reference time)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from fakepeer.addresses import AddressError, listen_address
from fakepeer.errors import ConfigError
from fakepeer.pki.authority import IssueOptions
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.store import CertStore


def add_store_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("certificate store")
    group.add_argument("--certs", type=Path, default=None, metavar="DIR",
                       help="the certificate store (default: ./certs, or $FAKEPEER_CERTS)")
    group.add_argument("--real-names", action="store_true",
                       help="exact real CA names, without the '(fakepeer lab)' marker")
    group.add_argument("--real-dates", action="store_true",
                       help="the real CAs' validity dates instead of 'valid now'")
    group.add_argument("--now", default=None, metavar="ISO-DATE",
                       help="the reference time for validity (default: the clock), "
                            "e.g. 2026-08-26T00:00:00Z")
    group.add_argument("--http-url", default=None, metavar="URL",
                       help="base of the AIA/CRL/OCSP URLs put in certificates "
                            "(default http://127.0.0.1:8080)")


def parse_now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"--now {text!r} is not an ISO date such as 2026-08-26T00:00:00Z"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def open_pki(args: argparse.Namespace, variables: dict[str, str], cwd: Path) -> Pki:
    root = args.certs or Path(variables.get("FAKEPEER_CERTS") or cwd / "certs")
    try:
        options = IssueOptions(
            real_names=args.real_names, real_dates=args.real_dates,
            http_base=args.http_url or variables.get("FAKEPEER_HTTP_URL")
            or "http://127.0.0.1:8080",
            now=parse_now(args.now),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Pki(CertStore(root, options.variant), options)


def listen_addresses(texts: list[str], option: str = "--listen") -> list[tuple[str, int]]:
    """Each ``HOST:PORT`` to listen on; a bad one is a ConfigError naming the option."""
    try:
        return [listen_address(text) for text in texts]
    except AddressError as exc:
        raise ConfigError(f"{option} {exc}") from None
