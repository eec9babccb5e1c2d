"""``fakepeer certs``: generate, pool, list, show, export and issue-sbc."""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

from cryptography import x509

from fakepeer.cli.environment import Environment
from fakepeer.cli.options import add_store_options, open_pki
from fakepeer.cli.status import ExitStatus
from fakepeer.errors import ConfigError, PkiError
from fakepeer.pki import catalogue, export, mirrors
from fakepeer.pki.files import PRIVATE_FILE, mode_text
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.keys import KeySpec, private_key_pem
from fakepeer.pki.situation import Situation, build_situation, sbc_chain

FORMATS = ("pem", "der", "p12", "cisco", "audiocodes")


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

    exp = actions.add_parser("export", help="export a certificate or an era's roots")
    target = exp.add_mutually_exclusive_group(required=True)
    target.add_argument("id", nargs="?", help="a certificate id (with its chain and key for p12)")
    target.add_argument("--roots", nargs="+", metavar="ERA",
                        help="the roots an SBC must trust for these eras ('all' for every "
                             "mirrored root)")
    exp.add_argument("--format", choices=FORMATS, default="pem")
    exp.add_argument("--out", type=Path, help="a file, or a folder (gets <hash>.0 links)")
    exp.add_argument("--password", default=None, help="PKCS#12 password (default: none)")
    exp.set_defaults(runner=_export)

    sbc = actions.add_parser("issue-sbc", help="a lab SBC certificate for mutual TLS")
    sbc.add_argument("fqdn", nargs="+", help="the SBC's FQDN(s): the first is the CN")
    sbc.add_argument("--issuer", choices=list(mirrors.SBC_ISSUERS), default="digicert-g2",
                     help="the mirrored CA to issue under ('untrusted': one no cloud trusts)")
    sbc.add_argument("--eku", choices=["server-client", "server", "client"],
                     default="server-client")
    sbc.add_argument("--out", type=Path, default=None,
                     help="folder for <fqdn>.pem, .key.pem, .chain.pem and .p12 (default .)")
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
    catalogue.generate(pki, eras, all_issuers=args.all_issuers, with_defects=args.defects,
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
    chain, seen, current = [], set(), cert_id
    while current and current not in seen:
        seen.add(current)
        certificate = pki.load_stored(current)
        if certificate is None:
            if not chain:
                raise PkiError(f"no certificate {current!r} in {pki.store.certs_dir}; "
                               "see `fakepeer certs list`")
            break
        chain.append(certificate)
        current = json.loads(pki.store.meta_path(current).read_text()).get("issuer")
    return chain


def _show(args: argparse.Namespace, env: Environment) -> ExitStatus:
    pki = _pki(args, env)
    if args.id in mirrors.ERAS:
        served = build_situation(pki, Situation(era=args.id))
        chain = list(served.sent)
        env.say(f"{mirrors.ERAS[args.id].title}: what fakepeer sends")
    else:
        chain = _chain_of(pki, args.id)
    for line in export.s_client_chain(chain):
        env.say(line)
    return ExitStatus.SUCCESS


def _roots_for(pki: Pki, eras: list[str]) -> list[tuple[str, x509.Certificate]]:
    if eras == ["all"]:
        ids = [r.id for r in mirrors.ROOTS]
    else:
        ids = []
        for era_id in eras:
            era = mirrors.ERAS.get(era_id)
            if era is None:
                raise ConfigError(f"unknown era {era_id!r}; known: {', '.join(mirrors.ERAS)}, all")
            ids += [era.path().anchor, *era.recommended_roots]
        ids = list(dict.fromkeys(ids))
    return [(c.id, c.certificate) for c in pki.certificates(ids)]


def _export(args: argparse.Namespace, env: Environment) -> ExitStatus:
    pki = _pki(args, env)
    if args.roots:
        items = _roots_for(pki, args.roots)
        key = None
    else:
        chain = _chain_of(pki, args.id)
        items = [(args.id, chain[0])]
        meta = json.loads(pki.store.meta_path(args.id).read_text())
        key = pki.store.load_key(meta["key"])
    names = [n for n, _ in items]
    certs = [c for _, c in items]
    fmt = args.format
    if fmt == "cisco":
        for name, certificate in items:
            snippet, warnings = export.cisco_trustpoint(name[:60], certificate)
            for warning in warnings:
                env.warn(f"warning: {name}: {warning}")
            _emit(env, args.out, f"{name}.ios.txt", snippet.encode(), len(items) > 1)
        return ExitStatus.SUCCESS
    if fmt == "audiocodes":
        _emit(env, args.out, "trusted-roots.pem", export.audiocodes_bundle(certs, names), False)
        return ExitStatus.SUCCESS
    if fmt == "p12":
        chain = [] if args.roots else _chain_of(pki, args.id)[1:]
        data = export.p12(names[0], certs[0], key, chain if not args.roots else certs[1:],
                          args.password.encode() if args.password else None)
        _emit(env, args.out, f"{names[0]}.p12", data, False, binary=True)
        return ExitStatus.SUCCESS
    if args.out and (args.out.is_dir() or len(items) > 1 or str(args.out).endswith("/")):
        written = export.write_hashed_folder(args.out, certs, names) if fmt == "pem" else []
        if fmt == "der":
            args.out.mkdir(parents=True, exist_ok=True)
            for name, certificate in items:
                (args.out / f"{name}.der").write_bytes(export.der(certificate))
                written.append(args.out / f"{name}.der")
        for path in written:
            env.say(str(path))
        return ExitStatus.SUCCESS
    data = export.pem(certs) if fmt == "pem" else export.der(certs[0])
    _emit(env, args.out, f"{names[0]}.{fmt}", data, False, binary=fmt == "der")
    return ExitStatus.SUCCESS


def _emit(env: Environment, out: Path | None, default_name: str, data: bytes, many: bool,
          binary: bool = False) -> None:
    if out is None:
        if binary:
            raise ConfigError(f"{default_name}: binary output needs --out FILE")
        env.stdout.write(data.decode())
        env.stdout.flush()
        return
    target = out / default_name if (out.is_dir() or many) else out
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    env.say(str(target))


def _issue_sbc(args: argparse.Namespace, env: Environment) -> ExitStatus:
    pki = _pki(args, env)
    eku = {"server-client": ("serverAuth", "clientAuth"), "server": ("serverAuth",),
           "client": ("clientAuth",)}[args.eku]
    served = sbc_chain(pki, tuple(args.fqdn), issuer=args.issuer, eku=eku)
    out = args.out or env.cwd
    out.mkdir(parents=True, exist_ok=True)
    base = out / args.fqdn[0]


    Path(f"{base}.pem").write_bytes(export.pem([served.leaf]))
    Path(f"{base}.chain.pem").write_bytes(export.pem(served.sent))
    key_path = Path(f"{base}.key.pem")
    key_path.touch(mode=0o600)
    key_path.chmod(0o600)
    key_path.write_bytes(private_key_pem(served.key))
    Path(f"{base}.p12").write_bytes(export.p12(args.fqdn[0], served.leaf, served.key,
                                               served.extra))
    Path(f"{base}.root.pem").write_bytes(export.pem(served.trust_anchors))
    env.say(f"SBC certificate for {', '.join(args.fqdn)} under {args.issuer} "
            f"(EKU {', '.join(eku)}):")
    for suffix in (".pem", ".key.pem", ".chain.pem", ".p12", ".root.pem"):
        env.say(f"  {base}{suffix}")
    for line in export.s_client_chain(served.sent):
        env.say("  " + line)
    return ExitStatus.SUCCESS
