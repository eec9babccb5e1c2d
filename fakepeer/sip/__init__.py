"""SIP over a stream, sans I/O: bytes in, events out, and fakepeer's answers.

No Twisted and no OpenSSL here: :mod:`fakepeer.net` owns the sockets and feeds
:class:`SipConnection`; :func:`respond` decides the reply; :func:`to_bytes` writes it.
"""

from fakepeer.sip.admission import AnswerReason, ContactMemo, PeerContext, contact_target
from fakepeer.sip.builder import build_options
from fakepeer.sip.connection import ConnectionState, ReadPhase, SipConnection
from fakepeer.sip.errors import LocalSipError, RemoteSipError, SipProtocolError
from fakepeer.sip.headers import Headers
from fakepeer.sip.limits import Deadlines, Limits
from fakepeer.sip.message import (
    NEED_DATA,
    ConnectionClosed,
    Event,
    KeepAlive,
    NeedData,
    PartialMessage,
    Request,
    Response,
)
from fakepeer.sip.profile import GENESYS, MICROSOFT, SipProfile
from fakepeer.sip.responder import Decision, ResponderPolicy, error_response, respond
from fakepeer.sip.serialize import PING, PONG, to_bytes

__all__ = [
    "GENESYS",
    "MICROSOFT",
    "NEED_DATA",
    "PING",
    "PONG",
    "AnswerReason",
    "ConnectionClosed",
    "ConnectionState",
    "ContactMemo",
    "Deadlines",
    "Decision",
    "Event",
    "Headers",
    "KeepAlive",
    "Limits",
    "LocalSipError",
    "NeedData",
    "PartialMessage",
    "PeerContext",
    "ReadPhase",
    "RemoteSipError",
    "Request",
    "ResponderPolicy",
    "Response",
    "SipConnection",
    "SipProfile",
    "SipProtocolError",
    "build_options",
    "contact_target",
    "error_response",
    "respond",
    "to_bytes",
]
