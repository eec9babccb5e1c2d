"""Benchmark: the sans-IO cost of one SBC OPTIONS, from bytes in to the 200 OK's bytes out.

Prints figures; asserts nothing. It measures the code on ``PYTHONPATH`` (it does not put
its own checkout first), so one session can compare two trees:

    PYTHONPATH=/path/to/old python3 benchmarks/sip_path.py
    PYTHONPATH=$PWD python3 benchmarks/sip_path.py [--rounds 2000] [--repeat 9]

Four figures, each the best of ``--repeat`` runs of ``--rounds`` iterations, in CPU
microseconds per iteration: parsing one Teams-style OPTIONS (``receive_data`` +
``next_event``), ``respond()`` on it for a mutual-TLS SBC whose certificate names the
Contact FQDN, ``to_bytes()`` of the 200 OK, and the whole round as ``serve`` runs it on
one persistent connection (feed -> event -> respond -> bytes). The peer context and the
per-connection state are built once, as ``serve`` builds them once per connection.
"""

from __future__ import annotations

import argparse
import inspect
import time
from collections.abc import Callable
from typing import Any

from fakepeer import sip

#: What an SBC sends every few seconds (the capture behind real-peers.md section 3, with
#: the headers a Teams-certified SBC adds).
OPTIONS = (
    b"OPTIONS sip:sip.pstnhub.microsoft.com:5061;transport=tls SIP/2.0\r\n"
    b"Via: SIP/2.0/TLS sbc.lab.example.com:5061;branch=z9hG4bK1HQpp1BtBQ30N;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:sbc.lab.example.com:5061;transport=tls>;tag=SX7B39veap93c\r\n"
    b"To: <sip:sip.pstnhub.microsoft.com>\r\n"
    b"Call-ID: dfe4b29f-51cb-1239-3b99-06ce423ffcdb\r\n"
    b"CSeq: 23765299 OPTIONS\r\n"
    b"Contact: <sip:sbc.lab.example.com:5061;transport=tls>\r\n"
    b"Allow: INVITE,ACK,OPTIONS,CANCEL,BYE,NOTIFY,REFER\r\n"
    b"User-Agent: AudioCodes-Sip-Gateway-Mediant VE SBC/v.7.40A.250.003\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)
NAMES = ("sbc.lab.example.com",)
DOMAINS = ("lab.example.com",)


def _peer() -> Any:
    """The peer context ``serve`` builds after a mutual-TLS handshake."""
    fields = inspect.signature(sip.PeerContext).parameters
    if "name_matcher" in fields:  # the matcher is injected (fakepeer.tls.identity)
        from fakepeer.tls.identity import matches_certificate_name

        return sip.PeerContext(NAMES, DOMAINS, mutual_tls=True,
                               name_matcher=matches_certificate_name)
    return sip.PeerContext(NAMES, DOMAINS, mutual_tls=True)


def _responder(peer: Any) -> Callable[[Any], Any]:
    """``respond`` bound the way ``serve`` calls it on one connection."""
    profile, policy = sip.MICROSOFT, sip.ResponderPolicy()
    if "memo" in inspect.signature(sip.respond).parameters:
        memo = sip.ContactMemo()
        return lambda request: sip.respond(request, profile, peer, policy, memo=memo)
    return lambda request: sip.respond(request, profile, peer, policy)


def best(rounds: int, repeat: int, step: Callable[[], object]) -> float:
    """CPU microseconds per call of ``step``: the best of ``repeat`` timed runs.

    CPU time of this process, not wall time: on a shared machine another process taking
    the core inflates wall time, not this figure.
    """
    figures = []
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(rounds):
            step()
        figures.append((time.process_time() - start) / rounds * 1e6)
    return min(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    connection = sip.SipConnection()
    respond = _responder(_peer())

    def parse() -> Any:
        connection.receive_data(OPTIONS)
        return connection.next_event()

    request = parse()
    decision = respond(request)
    assert decision.response is not None and decision.response.status == 200, decision
    response = decision.response
    wire = sip.to_bytes(response)

    def whole_round() -> bytes:
        connection.receive_data(OPTIONS)
        event = connection.next_event()
        answer = respond(event).response
        return sip.to_bytes(answer)

    assert whole_round() == wire
    figures = {
        "parse one OPTIONS (receive_data + next_event)": best(args.rounds, args.repeat, parse),
        "respond() for a mutual-TLS SBC": best(args.rounds, args.repeat,
                                               lambda: respond(request)),
        "to_bytes() of the 200 OK": best(args.rounds, args.repeat,
                                         lambda: sip.to_bytes(response)),
        "whole round: bytes -> event -> respond -> bytes": best(args.rounds, args.repeat,
                                                                 whole_round),
    }
    print(f"fakepeer.sip from {sip.__file__}")
    print(f"best of {args.repeat} x {args.rounds} rounds, CPU microseconds per call:")
    for label, micros in figures.items():
        print(f"  {label:<50} {micros:8.2f} us")


if __name__ == "__main__":
    main()
