"""``fakepeer certs``: generate, pool, list, show, export and issue-sbc."""

from __future__ import annotations

import argparse
import collections
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from fakepeer import generation
from fakepeer.cli.environment import Environment
from fakepeer.cli.options import add_store_options, open_pki
from fakepeer.cli.status import ExitStatus
from fakepeer.errors import ConfigError, PkiError
from fakepeer.pki import catalogue, export, mirrors
from fakepeer.pki.files import (
    PRIVATE_FILE,
    PRIVATE_FOLDER,
    PUBLIC_FILE,
    atomic_write,
    explain_os_error,
    make_folder,
    mode_text,
)
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.keys import KeySpec, PrivateKey, private_key_pem
from fakepeer.pki.situation import sbc_chain
from fakepeer.realize import realize

#: Export formats, each written by ``_WRITERS[format]`` (defined below).
FORMATS = ("pem", "der", "p7b", "p12", "cisco", "audiocodes")
#: A folder of exported certificates only: anyone may read it, nobody else may change it.
PUBLIC_FOLDER = 0o755

_PKCS12_PROTECTION_HELP = (
    "password for the PKCS#12 (AES-256); TEXT, env:VARIABLE or file:PATH "
    "(the last two keep it out of the process list). Default: none")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("certs", help="generate, list, show and export certificates",
                            description="The mirrored throwaway PKI and its store.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    gen = actions.add_parser("generate", help="make the CAs and leaves of one or more eras")
    _add_era_options(gen)
    gen.add_argument("--defects", action="store_true",
                     help="also a leaf for every defect of each era")
    gen.set_defaults(runner=_generate)

    pool = actions.add_parser(
        "pool", help="make spare keys ahead of time, so a later cold generation only signs",
        description="Fill the store's key pool (certs/pool/, keys 0600) with spare keys of "
                    "the types the eras' CAs and leaves use. A generation takes keys from the "
                    "pool before it makes new ones, so after this a cold start (a new "
                    "hierarchy in this store) costs signing only. Safe to run while fakepeer "
                    "serves from the same store.")
    _add_era_options(pool)
    pool.add_argument("--sets", type=_positive, default=1, metavar="N",
                      help="keep enough spare keys for N fresh generations (default 1)")
    pool.set_defaults(runner=_pool)

    lst = actions.add_parser("list", help="what the store holds, with thumbprints")
    lst.add_argument("--json", action="store_true", help="one JSON object per certificate")
    lst.set_defaults(runner=_list)

    show = actions.add_parser("show", help="a certificate or an era's chain, depth by depth")
    show.add_argument("id", help="a certificate id from `certs list`, or an era id")
    show.set_defaults(runner=_show)

    exp = actions.add_parser(
        "export", help="export a certificate or an era's roots",
        description="Write certificates in the form a device imports. --out PATH ending in "
                    "'/' (or an existing folder) is a folder, anything else one file.")
    target = exp.add_mutually_exclusive_group(required=True)
    target.add_argument("id", nargs="?", help="a certificate id (with its chain and key for p12)")
    target.add_argument("--roots", nargs="+", metavar="SET",
                        help="the roots an SBC must trust: an era's (its anchor and the roots "
                             "recommended for it), 'all' (every root any chain can anchor at) "
                             "or one root's id (as `scenarios show` names it)")
    exp.add_argument("--format", choices=FORMATS, default="pem",
                     help="pem: one bundle file (a Kamailio/OpenSIPS ca_list), or in a folder "
                          "one file per certificate with OpenSSL hash links (a ca_path); "
                          "der: one certificate per file; p7b: PKCS#7, several in one binary "
                          "file; p12: PKCS#12; cisco: IOS trustpoint snippets; audiocodes: "
                          "the trusted-roots bundle (default: pem)")
    exp.add_argument("--out", metavar="PATH",
                     help="a file, or a folder when PATH ends in '/' or is one; default: "
                          "standard output (text formats)")
    exp.add_argument("--password", default=None, metavar="TEXT", help=_PKCS12_PROTECTION_HELP)
    exp.set_defaults(runner=_export)

    sbc = actions.add_parser("issue-sbc", help="a lab SBC certificate for mutual TLS")
    sbc.add_argument("fqdn", nargs="+", help="the SBC's FQDN(s): the first is the CN")
    sbc.add_argument("--issuer", choices=list(mirrors.SBC_ISSUERS), default="digicert-g2",
                     help="the mirrored CA to issue under ('untrusted': one no cloud trusts)")
    sbc.add_argument("--eku", choices=["server-client", "server", "client"],
                     default="server-client", help="the extended key usages (default both)")
    sbc.add_argument("--out", type=Path, default=None,
                     help="folder for <fqdn>.pem, .key.pem, .chain.pem, .root.pem and .p12 "
                          "(default: the current folder; a new one is made 0700)")
    sbc.add_argument("--password", default=None, metavar="TEXT", help=_PKCS12_PROTECTION_HELP)
    sbc.set_defaults(runner=_issue_sbc)

    for p in (gen, pool, lst, show, exp, sbc):
        add_store_options(p)


def _add_era_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--era", action="append", choices=list(mirrors.ERAS),
                        help="an era to make (repeatable; default: all)")
    parser.add_argument("--all-issuers", action="store_true",
                        help="also the sibling issuing CAs (Azure 04/07/08, OCSP 04, ...)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _pki(args: argparse.Namespace, env: Environment) -> Pki:
    pki = open_pki(args, env.variables, env.cwd)
    pki.progress = lambda line: env.say("  " + line)
    return pki


def _generate(args: argparse.Namespace, env: Environment) -> ExitStatus:
    pki = _pki(args, env)
    eras = args.era or list(mirrors.ERAS)
    env.say(f"store {pki.store.root} ({pki.options.variant})")
    generation.generate(pki, eras, all_issuers=args.all_issuers, with_defects=args.defects,
                       progress=lambda line: env.say("  " + line))
    keys = f"{pki.keys_generated} keys generated"
    if pki.keys_from_pool:
        keys += f", {pki.keys_from_pool} taken from the key pool"
    env.say(f"done: {len(pki.generated)} certificates made, the rest reused ({keys})")
    return ExitStatus.SUCCESS


def _pool(args: argparse.Namespace, env: Environment) -> ExitStatus:
    pki = _pki(args, env)
    eras = args.era or list(mirrors.ERAS)
    ca_ids = catalogue.era_certificate_ids(eras, args.all_issuers) + [r.id for r in mirrors.ROOTS]
    leaves = {mirrors.ERAS[era].leaf.id: mirrors.ERAS[era].leaf.key for era in eras}
    one_set = pki.pool_plan(ca_ids, leaves.values())
    wanted = collections.Counter({spec: count * args.sets for spec, count in one_set.items()})
    have = pki.store.pool_counts()
    env.say(f"key pool {pki.store.pool_dir}: {have.total()} spare keys, "
            f"{wanted.total()} wanted ({_kinds(wanted)})")
    made = pki.fill_pool(wanted)
    env.say(f"done: {made} keys made; the pool holds {pki.store.pool_counts().total()} "
            f"(each {mode_text(PRIVATE_FILE)}), and generations take from it first")
    return ExitStatus.SUCCESS


def _kinds(counts: collections.Counter[KeySpec]) -> str:
    ordered = sorted(counts.items(), key=lambda item: (item[0].algorithm != "RSA", -item[0].size))
    return ", ".join(f"{count} {spec}" for spec, count in ordered)


def _row(cert_id: str, certificate: x509.Certificate) -> dict[str, str]:
    return {
        "id": cert_id,
        "subject": export.openssl_oneline(certificate.subject),
        "issuer": export.openssl_oneline(certificate.issuer),
        "key": export.describe_key(certificate),
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "sha1": export.thumbprint(certificate, "sha1"),
        "sha256": export.thumbprint(certificate, "sha256"),
        "subject_hash": export.subject_hash(certificate.subject),
    }


def _list(args: argparse.Namespace, env: Environment) -> ExitStatus:
    pki = _pki(args, env)
    ids = pki.store.stored_ids()
    if not ids:
        env.warn(f"{pki.store.certs_dir}: empty; run `fakepeer certs generate` first")
        return ExitStatus.SUCCESS
    for cert_id in ids:
        certificate = pki.load_stored(cert_id)
        if certificate is None:
            continue
        row = _row(cert_id, certificate)
        if args.json:
            env.say(json.dumps(row))
        else:
            env.say(f"{row['id']}\n  subject  {row['subject']}\n  issuer   {row['issuer']}\n"
                    f"  key      {row['key']}   valid {row['not_before'][:10]} .. "
                    f"{row['not_after'][:10]}\n  SHA-1    {row['sha1']}\n"
                    f"  SHA-256  {row['sha256']}\n  hash     {row['subject_hash']}.0")
    return ExitStatus.SUCCESS


def _chain_of(pki: Pki, cert_id: str) -> list[x509.Certificate]:
    """A stored certificate and its issuers up to the self-signed one, leaf first."""
    chain: list[x509.Certificate] = []
    seen: set[str] = set()
    current: str | None = cert_id
    while current and current not in seen:
        seen.add(current)
        certificate = pki.load_stored(current)
        meta = pki.store.load_meta(current)
        if certificate is None or meta is None:
            if not chain:
                raise PkiError(f"no certificate {current!r} in {pki.store.certs_dir}; "
                               "see `fakepeer certs list`")
            break
        chain.append(certificate)
        issuer = meta.get("issuer")
        current = issuer if isinstance(issuer, str) else None
    return chain


def _show(args: argparse.Namespace, env: Environment) -> ExitStatus:
    pki = _pki(args, env)
    if args.id in mirrors.ERAS:
        served = realize(generation.era_scenarios(args.id)[0], pki).chain
        chain = list(served.sent)
        env.say(f"{mirrors.ERAS[args.id].title}: what fakepeer sends")
    else:
        chain = _chain_of(pki, args.id)
    for line in export.s_client_chain(chain):
        env.say(line)
    return ExitStatus.SUCCESS


def _roots_for(pki: Pki, sets: list[str]) -> list[tuple[str, x509.Certificate]]:
    return [(c.id, c.certificate) for c in pki.certificates(catalogue.root_ids(sets))]


# -- writing what the user asked for -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Destination:
    """Where an export goes: the path as the user wrote it decides file or folder."""

    path: Path | None  # None: standard output
    folder: bool
    shown: str  # the path as the user wrote it, for messages


def _destination(text: str | None, cwd: Path) -> _Destination:
    if text is None or text == "-":
        return _Destination(None, False, "standard output")
    path = Path(text).expanduser()
    path = path if path.is_absolute() else cwd / path
    asks_folder = text.endswith("/")
    if asks_folder and path.exists() and not path.is_dir():
        file = text.rstrip("/")
        raise ConfigError(f"--out {text}: the trailing '/' asks for a folder, but {file} is a "
                          f"file. Remove it, or write --out {file} to replace the file with one "
                          "bundle.")
    return _Destination(path, asks_folder or path.is_dir(), text)


class _Writer:
    """Writes export files whole (temporary file, then rename) with modes that do not depend
    on the umask, and tells the user each file and its mode, one line each."""

    def __init__(self, env: Environment) -> None:
        self.env = env

    def folder(self, path: Path, mode: int) -> None:
        try:
            if make_folder(path, mode):
                self.env.say(f"made  {mode_text(mode)} {self.shown(path)}/")
        except OSError as exc:
            raise ConfigError(self._explain(exc, "create the folder", path)) from None

    def file(self, path: Path, data: bytes, mode: int, what: str) -> None:
        self.folder(path.parent, PUBLIC_FOLDER)
        try:
            atomic_write(path, data, mode)
        except OSError as exc:
            raise ConfigError(self._explain(exc, f"write the {what}", path)) from None
        self.tell(export.Written(path, mode, what))

    def tell(self, written: export.Written) -> None:
        if written.mode is None:
            self.env.say(f"link       {self.shown(written.path)} -> "
                         f"{written.what.removeprefix('link to ')}")
        else:
            private = " (owner only)" if written.mode == PRIVATE_FILE else ""
            self.env.say(f"wrote {mode_text(written.mode)} {self.shown(written.path)}: "
                         f"{written.what}{private}")

    def shown(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.env.cwd))
        except ValueError:
            return str(path)

    def _explain(self, exc: OSError, doing: str, path: Path) -> str:
        return explain_os_error(exc, doing, path, elsewhere="choose another --out",
                                writing=True)


def _password(text: str | None, env: Environment) -> bytes | None:
    """``--password``: the text itself, ``env:NAME``, ``file:PATH`` (first line) or
    ``pass:TEXT`` (a password that itself starts with ``env:`` or ``file:``)."""
    if not text:
        return None
    kind, colon, rest = text.partition(":")
    if colon and kind == "env":
        if rest not in env.variables:
            raise ConfigError(f"--password env:{rest}: the variable {rest} is not set. Export "
                              "it first, or give the password another way.")
        value = env.variables[rest]
    elif colon and kind == "file":
        path = Path(rest).expanduser()
        try:
            lines = (path if path.is_absolute() else env.cwd / path).read_text().splitlines()
        except OSError as exc:
            raise ConfigError(explain_os_error(exc, "read the password file", path)) from None
        value = lines[0] if lines else ""
    elif colon and kind == "pass":
        value = rest
    else:
        value = text
    if not value:
        raise ConfigError("--password: the password is empty. Leave --password out for a "
                          "PKCS#12 without one.")
    return value.encode()


def _say_p12(env: Environment, shown: str, password: bytes | None) -> None:
    if password:
        env.say(f"  {shown} is encrypted (AES-256): the SBC asks for the same password when "
                "it imports it.")
    else:
        env.warn(f"note: {shown} is not encrypted (empty password): whoever can read the file "
                 "has the key. Import it leaving the password empty (SBC certificate pages "
                 "accept that for PKCS#12/PFX), or make an encrypted one with --password.")


@dataclass(frozen=True, slots=True)
class _Export:
    """What ``certs export`` was asked for, resolved: certificates (leaf or roots first),
    the key and chain of a single certificate, and where it all goes."""

    env: Environment
    writer: _Writer
    items: list[tuple[str, x509.Certificate]]
    out: _Destination
    bundle: str  # the file name stem for one-file formats written into a folder
    roots: bool
    key: PrivateKey | None = None
    chain: tuple[x509.Certificate, ...] = ()  # above a single certificate, for p12
    password: str | None = None

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.items]

    @property
    def certificates(self) -> list[x509.Certificate]:
        return [certificate for _, certificate in self.items]

    @property
    def path(self) -> Path:
        assert self.out.path is not None, "standard output is handled before any file"
        return self.out.path

    def target(self, suffix: str) -> Path:
        """The one file of a one-file format: --out itself, or <bundle><suffix> in it."""
        return self.path / f"{self.bundle}{suffix}" if self.out.folder else self.path

    def counted(self, what: str) -> str:
        count = len(self.items)
        return f"{what} of {count} certificate{'s' if count > 1 else ''}"


def _export(args: argparse.Namespace, env: Environment) -> ExitStatus:
    pki = _pki(args, env)
    out = _destination(args.out, env.cwd)
    writer = _Writer(env)
    if args.roots:
        job = _Export(env, writer, _roots_for(pki, args.roots), out, "trusted-roots", True,
                      password=args.password)
    else:
        chain = _chain_of(pki, args.id)
        meta: dict[str, Any] = pki.store.load_meta(args.id) or {}
        key = pki.store.load_key(meta["key"]) if isinstance(meta.get("key"), str) else None
        job = _Export(env, writer, [(args.id, chain[0])], out, args.id, False, key,
                      tuple(chain[1:]), args.password)
    if out.path is None:
        if args.format in ("der", "p7b", "p12"):
            raise ConfigError(f"--format {args.format} is binary: give --out FILE "
                              "(or --out FOLDER/)")
        env.stdout.write(_TEXT[args.format](job).decode())
        env.stdout.flush()
        return ExitStatus.SUCCESS
    if out.folder:
        private = job.key is not None and args.format == "p12"
        writer.folder(job.path, PRIVATE_FOLDER if private else PUBLIC_FOLDER)
    _WRITERS[args.format](job)
    return ExitStatus.SUCCESS


def _export_pem(job: _Export) -> None:
    if job.out.folder:
        # Also for one certificate: a CA exported into a ca_path folder gets its link.
        for written in export.write_hashed_folder(job.path, job.certificates, job.names):
            job.writer.tell(written)
        if job.roots:
            job.env.say(f"  for Kamailio/OpenSIPS: ca_path = {job.path} (a ca_list needs one "
                        f"file: --out {Path(job.out.shown.rstrip('/'))}.pem)")
        return
    job.writer.file(job.path, _TEXT["pem"](job), PUBLIC_FILE, job.counted("bundle"))
    if job.roots:
        job.env.say(f"  for Kamailio/OpenSIPS: ca_list = {job.path}")


def _export_der(job: _Export) -> None:
    if not job.out.folder and len(job.items) > 1:
        raise ConfigError(f"--format der holds one certificate and {len(job.items)} were "
                          f"asked for: use --format p7b for one file, or --out "
                          f"{job.out.shown}/ for one .der file each.")
    for name, certificate in job.items:
        target = job.path / f"{name}.der" if job.out.folder else job.path
        job.writer.file(target, export.der(certificate), PUBLIC_FILE, f"certificate {name}")
    _say_fingerprints(job.env, job.items)


def _export_p7b(job: _Export) -> None:
    job.writer.file(job.target(".p7b"), export.pkcs7_bundle(job.certificates), PUBLIC_FILE,
                    job.counted("PKCS#7 bundle"))
    _say_fingerprints(job.env, job.items)


def _export_p12(job: _Export) -> None:
    password = _password(job.password, job.env)
    target = job.target(".p12")
    if job.roots:
        data = export.p12(job.bundle, None, None, job.certificates, password)
        job.writer.file(target, data, PUBLIC_FILE, job.counted("PKCS#12 trust store"))
    else:
        (name, certificate), = job.items
        data = export.p12(name, certificate, job.key, job.chain, password)
        if job.key is None:
            job.writer.file(target, data, PUBLIC_FILE, "PKCS#12 with the chain")
        else:
            job.writer.file(target, data, PRIVATE_FILE, "PKCS#12 with the key and chain")
            _say_p12(job.env, job.writer.shown(target), password)
    _say_fingerprints(job.env, job.items)


def _export_cisco(job: _Export) -> None:
    if job.out.folder:
        for name, certificate in job.items:
            job.writer.file(job.path / f"{name}.ios.txt",
                            _cisco(job.env, [(name, certificate)]).encode(), PUBLIC_FILE,
                            f"IOS trustpoint snippet for {name}")
    else:
        job.writer.file(job.path, _TEXT["cisco"](job), PUBLIC_FILE,
                        f"IOS trustpoint snippets for {len(job.items)} certificates, one "
                        "paste each")


def _export_audiocodes(job: _Export) -> None:
    target = job.path / "trusted-roots.pem" if job.out.folder else job.path
    job.writer.file(target, _TEXT["audiocodes"](job), PUBLIC_FILE,
                    "AudioCodes trusted-roots bundle")


#: The text formats as one file (or standard output).
_TEXT: dict[str, Callable[[_Export], bytes]] = {
    "pem": lambda job: export.pem_bundle(job.certificates, job.names),
    "audiocodes": lambda job: export.audiocodes_bundle(job.certificates, job.names),
    "cisco": lambda job: _cisco(job.env, job.items).encode(),
}
_WRITERS: dict[str, Callable[[_Export], None]] = {
    "pem": _export_pem, "der": _export_der, "p7b": _export_p7b, "p12": _export_p12,
    "cisco": _export_cisco, "audiocodes": _export_audiocodes,
}


def _cisco(env: Environment, items: list[tuple[str, x509.Certificate]]) -> str:
    snippets = []
    for name, certificate in items:
        snippet, warnings = export.cisco_trustpoint(name[:60], certificate)
        for warning in warnings:
            env.warn(f"warning: {name}: {warning}")
        snippets.append(snippet)
    if len(snippets) > 1:
        # One trustpoint per paste: IOS asks to accept after each one.
        return "!\n! Paste one trustpoint at a time and answer IOS's question in between.\n!\n" \
            + "!\n".join(snippets)
    return "".join(snippets)


def _say_fingerprints(env: Environment, items: list[tuple[str, x509.Certificate]]) -> None:
    """Binary formats cannot carry comments: the fingerprints to compare go to the terminal
    (colon-separated, as openssl and SBC screens show them; Windows shows the same digits)."""
    for name, certificate in items:
        env.say(f"  {name}: SHA-1 {export.colon_thumbprint(certificate, 'sha1')}")
        env.say(f"  {' ' * len(name)}  SHA-256 {export.colon_thumbprint(certificate, 'sha256')}")


def _issue_sbc(args: argparse.Namespace, env: Environment) -> ExitStatus:
    pki = _pki(args, env)
    password = _password(args.password, env)
    eku = {"server-client": ("serverAuth", "clientAuth"), "server": ("serverAuth",),
           "client": ("clientAuth",)}[args.eku]
    served = sbc_chain(pki, tuple(args.fqdn), issuer=args.issuer, eku=eku)
    key = served.key
    if not isinstance(key, PrivateKey):  # the store makes RSA and EC keys only
        raise PkiError(f"{args.fqdn[0]}: unexpected key type {type(key).__name__}")
    out: Path = env.cwd if args.out is None else env.cwd / args.out.expanduser()
    writer = _Writer(env)
    writer.folder(out, PRIVATE_FOLDER)
    env.say(f"SBC certificate for {', '.join(args.fqdn)} under {args.issuer} "
            f"(EKU {', '.join(eku)}):")
    base = args.fqdn[0]
    writer.file(out / f"{base}.pem", export.pem([served.leaf]), PUBLIC_FILE, "certificate")
    writer.file(out / f"{base}.chain.pem", export.pem(served.sent), PUBLIC_FILE,
                "certificate and intermediates, as the SBC sends them")
    writer.file(out / f"{base}.key.pem", private_key_pem(key), PRIVATE_FILE, "private key")
    writer.file(out / f"{base}.p12", export.p12(base, served.leaf, key, served.extra, password),
                PRIVATE_FILE, "PKCS#12 with the key and chain")
    writer.file(out / f"{base}.root.pem", export.pem(served.trust_anchors), PUBLIC_FILE,
                "the root it chains to")
    _say_p12(env, writer.shown(out / f"{base}.p12"), password)
    for line in export.s_client_chain(served.sent):
        env.say("  " + line)
    return ExitStatus.SUCCESS
