"""TLS policy for fakepeer: what each peer accepts, how it is served, what was observed.

``policy`` holds the values (:class:`TlsPolicy`, :data:`MICROSOFT`, :data:`GENESYS`),
``context`` turns them into OpenSSL contexts, ``creator`` hands those to Twisted per
connection, ``observation`` records what the SBC did, ``alerts`` decodes it and
``inspect`` summarizes and judges certificates.
"""

from fakepeer.tls.creator import (
    ClientConnectionCreator,
    ObservedConnection,
    PolicyRefusal,
    ServerConnectionCreator,
)
from fakepeer.tls.observation import (
    AlertRecord,
    FailureReason,
    HandshakeFailure,
    Refusal,
    TlsObservation,
    VerifyErrorRecord,
    observation_for,
)
from fakepeer.tls.policy import GENESYS, MICROSOFT, TlsPolicy, TlsVersion

__all__ = [
    "GENESYS",
    "MICROSOFT",
    "AlertRecord",
    "ClientConnectionCreator",
    "FailureReason",
    "HandshakeFailure",
    "ObservedConnection",
    "PolicyRefusal",
    "Refusal",
    "ServerConnectionCreator",
    "TlsObservation",
    "TlsPolicy",
    "TlsVersion",
    "VerifyErrorRecord",
    "observation_for",
]
