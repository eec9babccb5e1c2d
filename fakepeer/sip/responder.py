# -*- test-case-name: tests.sip.test_responder -*-
"""What fakepeer answers to a request, as pure functions: no I/O, no clock, no randomness.

:func:`respond` maps (request, profile, peer, policy) to a :class:`Decision`: the
response to send (``None`` for ACK, or when a request cannot be addressed) plus a
machine-readable :class:`AnswerReason` and a sentence for the lab user. Order of checks:

1. ACK: no response (RFC 3261 §17.2.1; ACK is never answered).
2. Missing Via/Call-ID/CSeq: nothing can address a reply; missing From/To or a CSeq
   that does not match the method: 400 with a ``Warning``.
3. A method no RFC defines: 501 with ``Allow``; a known one the profile does not allow
   (REGISTER, SUBSCRIBE, MESSAGE... for Teams): 405 with ``Allow`` (RFC 3261 §8.2.1).
4. ``Replaces`` header (Teams, since 2022-04): 403. The code Microsoft uses is not
   documented [?]; 403 says "refused by policy". Only the header counts: ``replaces``
   in Supported/Require merely announces the extension and is accepted.
5. Contact rules (Teams) on OPTIONS and INVITE, the requests that carry the SBC's
   address: 403 (see :mod:`fakepeer.sip.admission`).
6. OPTIONS: 200 OK (or the policy's override status); INVITE: the policy's final
   response (fakepeer places no calls); BYE/CANCEL/NOTIFY (and INFO/UPDATE/PRACK if a
   profile allows them): 481, no dialog exists; any other allowed method: 501.

The To-tag a response needs (RFC 3261 §8.2.6.2) is derived from Call-ID and From, so
the same request always gets the same bytes back and tests stay deterministic.

Cost matters here: an SBC pings every few seconds for days. Each profile's response
layout (spelled names, Server, Allow) is worked out once and reused; the request's
values are copied in without being validated again (they were, when parsed); and a
connection that keeps a :class:`~fakepeer.sip.admission.ContactMemo` judges each
distinct Contact once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from fakepeer.sip.admission import AnswerReason, ContactMemo, PeerContext, check_contact
from fakepeer.sip.errors import SipProtocolError
from fakepeer.sip.grammar import (
    KNOWN_METHODS,
    STATUS_RANGE,
    TOKEN,
    header_params,
    quoted_string,
    reason_phrase,
)
from fakepeer.sip.headers import Headers, check_pair
from fakepeer.sip.message import PartialMessage, Request, Response
from fakepeer.sip.profile import EXTRAS, MICROSOFT, SipProfile

#: RFC 3261 §20.16: ``CSeq = "CSeq" HCOLON 1*DIGIT LWS Method``.
_CSEQ = re.compile(rf"([0-9]{{1,10}})[ \t]+({TOKEN.pattern})")

#: real-peers.md §3 [S]: the proxy's text ends with this sentence; what precedes the
#: ";" in the real header is not known, so fakepeer names itself there.
MISSING_CONTACT_REASON = (
    'Q.850;cause=63;text="fakepeer;Record-Route and Contact headers are missing"'
)

DEFAULT_INVITE_REASON_TEXT = "fakepeer answers OPTIONS only and does not place calls"

#: Methods that only make sense inside a dialog or transaction fakepeer never has.
_NO_DIALOG_METHODS = frozenset({"BYE", "CANCEL", "NOTIFY", "INFO", "UPDATE", "PRACK"})
_CONTACT_METHODS = frozenset({"OPTIONS", "INVITE"})

#: Answer reasons whose response gets no Warning: success, a scenario's deliberate status,
#: and the two refusals that already carry a Reason header saying why.
_UNEXPLAINED = frozenset({AnswerReason.OK, AnswerReason.OPTIONS_OVERRIDE,
                          AnswerReason.INVITE_REFUSED, AnswerReason.CONTACT_MISSING})


@dataclass(frozen=True, slots=True)
class ResponderPolicy:
    """The scenario's choices for answers the real peer leaves open.

    ``invite_status``/``invite_reason_text``: the final response to any INVITE (300-699;
    a 2xx would open a dialog fakepeer cannot carry) and the text of its
    ``Reason: SIP;cause=<status>;text="..."`` header (RFC 3326), ``None`` for none.
    ``options_status``: 200 normally; a scenario may answer OPTIONS with, say, 503 to
    watch the SBC fail over (Teams' SBCs fail over on 408, 503, 504).
    ``explain_in_warning``: add ``Warning: 399 fakepeer "..."`` to fakepeer's own
    refusals, so the SBC's log says why.
    """

    invite_status: int = 503
    invite_reason_text: str | None = DEFAULT_INVITE_REASON_TEXT
    options_status: int = 200
    explain_in_warning: bool = True

    def __post_init__(self) -> None:
        if type(self.invite_status) is not int or not 300 <= self.invite_status <= 699:
            raise ValueError(f"invite_status must be 300-699, not {self.invite_status!r}")
        if type(self.options_status) is not int or not 200 <= self.options_status <= 699:
            raise ValueError(f"options_status must be 200-699, not {self.options_status!r}")


DEFAULT_POLICY = ResponderPolicy()


@dataclass(frozen=True, slots=True)
class Decision:
    """The response to send (``None``: send nothing), why, in code and in words."""

    response: Response | None
    answer_reason: AnswerReason
    explanation: str


def respond(
    request: Request,
    profile: SipProfile,
    peer: PeerContext,
    policy: ResponderPolicy = DEFAULT_POLICY,
    *,
    memo: ContactMemo | None = None,
) -> Decision:
    """Decide how ``profile`` answers ``request`` from ``peer`` (see the module docstring).

    ``memo``: the connection's :class:`ContactMemo`, so that a Contact it has judged
    before is not judged again; without one every request is checked afresh.
    """
    method = request.method
    if method == "ACK":
        return Decision(None, AnswerReason.NO_RESPONSE, "ACK is never answered (RFC 3261 §17.2.1)")
    headers = request.headers
    problem = _addressing_problem(headers, method)
    if problem is not None:
        return _malformed(headers, problem, profile, policy)
    layout = _layout(profile)
    if method not in profile.allow:
        if method not in KNOWN_METHODS:
            explanation = f"{method} is not a SIP method fakepeer knows"
            return _answer(layout, policy, headers, method, 501,
                           AnswerReason.METHOD_NOT_IMPLEMENTED, explanation, (layout.allow,))
        explanation = f"{profile.name} does not allow {method}; Allow: {profile.allow_value}"
        return _answer(layout, policy, headers, method, 405, AnswerReason.METHOD_NOT_ALLOWED,
                       explanation, (layout.allow,))
    if profile.reject_replaces and headers.has("Replaces"):
        explanation = f"{profile.name} rejects requests carrying a Replaces header"
        return _answer(layout, policy, headers, method, 403, AnswerReason.REPLACES_REJECTED,
                       explanation)
    if profile.contact_rules and method in _CONTACT_METHODS:
        verdict = memo.check(headers, peer) if memo is not None else check_contact(headers, peer)
        if verdict is not None:
            extras: tuple[tuple[str, str], ...] = ()
            if verdict.answer_reason is AnswerReason.CONTACT_MISSING:
                extras = (("Reason", MISSING_CONTACT_REASON),)
            return _answer(layout, policy, headers, method, 403, verdict.answer_reason,
                           verdict.explanation, extras)
    if method == "OPTIONS":
        if policy.options_status == 200:
            return _answer(layout, policy, headers, method, 200, AnswerReason.OK,
                           "OPTIONS accepted", (layout.allow,))
        explanation = f"the scenario answers OPTIONS with {policy.options_status}"
        return _answer(layout, policy, headers, method, policy.options_status,
                       AnswerReason.OPTIONS_OVERRIDE, explanation)
    if method == "INVITE":
        status = policy.invite_status
        reason: tuple[tuple[str, str], ...] = ()
        if policy.invite_reason_text is not None:
            text = quoted_string(policy.invite_reason_text)
            reason = (("Reason", f"SIP;cause={status};text={text}"),)
        explanation = f"fakepeer places no calls; INVITE answered {status}"
        return _answer(layout, policy, headers, method, status, AnswerReason.INVITE_REFUSED,
                       explanation, reason)
    if method in _NO_DIALOG_METHODS:
        explanation = f"{method} refers to a dialog fakepeer never made"
        return _answer(layout, policy, headers, method, 481, AnswerReason.NO_DIALOG, explanation)
    explanation = f"{profile.name} allows {method} but fakepeer does not implement it"
    return _answer(layout, policy, headers, method, 501, AnswerReason.METHOD_NOT_IMPLEMENTED,
                   explanation, (layout.allow,))


def _answer(
    layout: _Layout,
    policy: ResponderPolicy,
    headers: Headers,
    cseq_method: str,
    status: int,
    answer_reason: AnswerReason,
    explanation: str,
    extras: tuple[tuple[str, str], ...] = (),
) -> Decision:
    """The decision for a well-addressed request, with a Warning where one explains it."""
    if policy.explain_in_warning and answer_reason not in _UNEXPLAINED:
        extras = (*extras, ("Warning", _warning(explanation)))
    response = _response(layout, headers, cseq_method, status, extras)
    return Decision(response, answer_reason, explanation)


def error_response(
    error: SipProtocolError,
    partial: Request | PartialMessage | None,
    profile: SipProfile = MICROSOFT,
) -> Response | None:
    """The reply to a message that failed to parse, or ``None`` if none can be sent.

    Status is the error's ``status_hint`` (400, 505, 513...) with ``Warning: 399
    fakepeer "<reason>"``. ``None`` when nothing is known of the message, when it was a
    response or an ACK, or when Via, Call-ID or CSeq is missing: then the caller just
    closes the connection (after an unrecoverable error it must close anyway).
    """
    if partial is None:
        return None
    if isinstance(partial, PartialMessage) and partial.is_response:
        return None
    headers = partial.headers
    cseq = _CSEQ.fullmatch(headers.get("CSeq") or "")
    method = partial.method
    if method == "ACK" or (cseq is not None and cseq.group(2) == "ACK"):
        return None
    if not (headers.has("Via") and headers.has("Call-ID") and cseq is not None):
        return None
    status = error.status_hint if error.status_hint in range(300, 700) else 400
    return _response(_layout(profile), headers, cseq.group(2), status,
                     (("Warning", _warning(error.message)),))


#: The headers a response copies, with their lookup keys, in the order they are checked.
_ADDRESSING = (("Via", "via"), ("From", "from"), ("To", "to"), ("Call-ID", "call-id"),
               ("CSeq", "cseq"))


def _addressing_problem(headers: Headers, method: str) -> str | None:
    """Why a response to these headers would be malformed, or ``None``."""
    index = headers.lookup_index()
    for name, key in _ADDRESSING:
        if key not in index:
            return f"the request has no {name} header"
    value = index["cseq"][0]
    cseq = _CSEQ.fullmatch(value)
    if cseq is None:
        return f"CSeq {value!r} is not 'number METHOD'"
    if cseq.group(2) != method:
        return f"CSeq method {cseq.group(2)} does not match the request method {method}"
    return None


def _malformed(
    headers: Headers, problem: str, profile: SipProfile, policy: ResponderPolicy
) -> Decision:
    """400 for a request that parsed but cannot be answered normally (or no response)."""
    if not (headers.has("Via") and headers.has("Call-ID") and headers.has("CSeq")):
        return Decision(None, AnswerReason.MALFORMED, f"{problem}; no response can be addressed")
    extras = (("Warning", _warning(problem)),) if policy.explain_in_warning else ()
    cseq = _CSEQ.fullmatch(headers.get("CSeq") or "")
    cseq_method = cseq.group(2) if cseq is not None else ""
    response = _response(_layout(profile), headers, cseq_method, 400, extras)
    return Decision(response, AnswerReason.MALFORMED, problem)


def _warning(text: str) -> str:
    """RFC 3261 §20.43 ``warn-code SP warn-agent SP warn-text``; 399 is "miscellaneous"."""
    return f"399 fakepeer {quoted_string(text)}"


#: How a layout slot is filled (see :class:`_Layout`).
_FIRST, _EVERY, _FIXED, _TO, _EXTRAS = range(5)


@dataclass(frozen=True, slots=True)
class _Layout:
    """One profile's response layout, worked out once: a plan of slots, fixed pairs.

    ``plan`` holds one ``(kind, spelled name or fixed pair, lookup key)`` per layout
    slot: copy the request's first value (From, CSeq, Call-ID), every value (Via), the
    To with or without a tag, a fixed pair (Content-Length, Server), or the extras.
    ``allow`` is the profile's ``Allow`` pair; fixed pairs are validated once, here.
    """

    profile: SipProfile
    plan: tuple[tuple[int, Any, str], ...]
    spelled: dict[str, str]
    allow: tuple[str, str]

    @classmethod
    def of(cls, profile: SipProfile) -> _Layout:
        name = profile.header_name
        allow = (name("Allow"), profile.allow_value)
        check_pair(1, allow)
        plan: list[tuple[int, Any, str]] = []
        for slot in profile.layout:
            key = slot.lower()
            if slot == EXTRAS:
                plan.append((_EXTRAS, None, ""))
            elif slot == "Via":
                plan.append((_EVERY, name(slot), key))
            elif slot == "To":
                plan.append((_TO, name(slot), key))
            elif slot in ("Server", "Content-Length"):
                pair = (name(slot), profile.server if slot == "Server" else "0")
                check_pair(1, pair)
                plan.append((_FIXED, pair, key))
            else:
                plan.append((_FIRST, name(slot), key))
        spelled = {extra: name(extra) for extra in ("Allow", "Reason", "Warning")}
        return cls(profile, tuple(plan), spelled, allow)


#: Layouts by profile identity (a profile is a frozen value; hashing it per response
#: would cost more than the layout saves). Bounded: scenarios make a few profiles.
_LAYOUTS: dict[int, _Layout] = {}
_MAX_LAYOUTS = 64


def _layout(profile: SipProfile) -> _Layout:
    layout = _LAYOUTS.get(id(profile))
    if layout is None or layout.profile is not profile:
        if len(_LAYOUTS) >= _MAX_LAYOUTS:
            _LAYOUTS.clear()
        layout = _LAYOUTS[id(profile)] = _Layout.of(profile)
    return layout


def _response(
    layout: _Layout,
    request_headers: Headers,
    cseq_method: str,
    status: int,
    extras: tuple[tuple[str, str], ...],
) -> Response:
    """A body-less response laid out the profile's way, copying the request's identifiers.

    From, CSeq, Call-ID and every Via (in order, one line each as received) are copied
    (RFC 3261 §8.2.6.2); To is copied and gets a tag unless this is an OPTIONS answer
    and the profile adds none. Copied values were validated when the request was
    parsed; only extras other than the layout's own Allow are checked here.
    """
    assert status in STATUS_RANGE
    index = request_headers.lookup_index()
    pairs: list[tuple[str, str]] = []
    for kind, spelled, key in layout.plan:
        if kind == _FIRST:
            values = index.get(key)
            if values:
                pairs.append((spelled, values[0]))
        elif kind == _EVERY:
            pairs.extend(zip(repeat(spelled), index.get(key, ())))
        elif kind == _FIXED:
            pairs.append(spelled)
        elif kind == _TO:
            values = index.get(key)
            if values:
                pairs.append((spelled, _to_value(layout.profile, request_headers, values[0],
                                                 cseq_method, status)))
        else:
            for name, value in extras:
                if (name, value) == layout.allow:
                    pairs.append(layout.allow)
                    continue
                pair = (layout.spelled.get(name) or layout.profile.header_name(name), value)
                check_pair(len(pairs) + 1, pair)
                pairs.append(pair)
    return Response.trusted(status, reason_phrase(status), Headers.trusted(tuple(pairs)))


def _to_value(profile: SipProfile, request_headers: Headers, to: str, cseq_method: str,
              status: int) -> str:
    """The request's To, with a To-tag added where the response needs one."""
    wants_tag = status > 100 and (profile.tag_options_responses or cseq_method != "OPTIONS")
    if wants_tag and "tag" not in header_params(to):
        return f"{to};tag={_local_tag(request_headers)}"
    return to


def _local_tag(request_headers: Headers) -> str:
    """A To-tag that is stable for one Call-ID and From, so retransmissions match."""
    seed = "\n".join((request_headers.get("Call-ID") or "", request_headers.get("From") or ""))
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:16]
