"""The TLS floor with the OpenSSL fakepeer runs on: a server-side handshake in memory.

``tlsload/tlsfloor.c`` measures Debian's libssl (Kamailio's); fakepeer reaches OpenSSL
through pyOpenSSL and ``cryptography``'s own build of it, which may be another version.
This is the same loop through pyOpenSSL: a client and a server ``Connection`` joined by
memory BIOs, only the server's calls timed in thread CPU time. It runs in whatever
environment starts it (the benchmark starts it with a tree's ``PYTHONPATH``) and prints
one JSON line; its Python call overhead (a few microseconds) is part of the figure.

    python3 benchmarks/tls_floor.py --cert CHAIN.pem --key KEY.pem [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from OpenSSL import SSL

CIPHERS = (b"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
           b"ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256")
BATCH = 20


def _context(method: int, ciphers: bytes) -> SSL.Context:
    context = SSL.Context(method)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_max_proto_version(SSL.TLS1_2_VERSION)
    context.set_options(SSL.OP_NO_TICKET)
    context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    context.set_cipher_list(ciphers)
    return context


def _pump(source: SSL.Connection, target: SSL.Connection) -> None:
    """Move whatever ``source`` wrote into ``target``'s input."""
    while True:
        try:
            data = source.bio_read(65536)
        except SSL.WantReadError:
            return
        target.bio_write(data)


def server_handshake_seconds(server: SSL.Context, client: SSL.Context) -> tuple[float, str]:
    """Thread CPU seconds the server side spent on one full handshake, and its cipher."""
    spent = 0.0
    mark = time.thread_time()
    accepting = SSL.Connection(server, None)
    accepting.set_accept_state()
    spent += time.thread_time() - mark
    connecting = SSL.Connection(client, None)
    connecting.set_connect_state()
    client_done = server_done = False
    for _ in range(20):
        if client_done and server_done:
            break
        if not client_done:
            try:
                connecting.do_handshake()
                client_done = True
            except SSL.WantReadError:
                pass
            _pump(connecting, accepting)
        if not server_done:
            mark = time.thread_time()
            try:
                accepting.do_handshake()
                server_done = True
            except SSL.WantReadError:
                pass
            spent += time.thread_time() - mark
            _pump(accepting, connecting)
    if not (client_done and server_done):
        raise RuntimeError("the in-memory handshake did not finish")
    return spent, accepting.get_cipher_name() or "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cert", required=True, help="the served chain, PEM")
    parser.add_argument("--key", required=True, help="its private key, PEM")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    server = _context(SSL.TLS_SERVER_METHOD, CIPHERS)
    server.use_certificate_chain_file(args.cert)
    server.use_privatekey_file(args.key)
    client = _context(SSL.TLS_CLIENT_METHOD, CIPHERS)
    per_handshake: list[float] = []
    cipher = "?"
    until = time.monotonic() + args.seconds
    while len(per_handshake) < 5 or time.monotonic() < until:
        total = 0.0
        for _ in range(BATCH):
            spent, cipher = server_handshake_seconds(server, client)
            total += spent
        per_handshake.append(total / BATCH)
    print(json.dumps({
        "library_version": SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode(),
        "cipher": cipher, "handshakes": len(per_handshake) * BATCH,
        "server_us_median": round(statistics.median(per_handshake) * 1e6, 1),
        "server_us_min": round(min(per_handshake) * 1e6, 1)}))


if __name__ == "__main__":
    main()
