# -*- test-case-name: tests.net.test_http -*-
"""PKI work for the network side, off the reactor thread.

Making a CA key takes up to a second (RSA-4096); done on the reactor thread, it stalls
every SBC connection for that long. So a request handler never touches the PKI itself:
it hands a job to a :class:`PkiWorker`, which runs the jobs one at a time on a worker
thread, in order, against its own :class:`~fakepeer.pki.hierarchy.Pki`. That Pki has its
own ``CertStore`` (so its own lock file descriptor): the store's lock serialises it
against the serving process's Pki exactly as it serialises two processes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from twisted.internet.defer import Deferred, DeferredLock
from twisted.internet.threads import deferToThread

from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.store import CertStore

T = TypeVar("T")


class PkiWorker:
    """Runs PKI jobs on a worker thread, one at a time, on a private copy of a Pki."""

    def __init__(self, pki: Pki) -> None:
        self.pki = Pki(CertStore(pki.store.root, pki.store.variant), pki.options, pki.cas)
        self._lock = DeferredLock()

    def run(self, job: Callable[[Pki], T]) -> Deferred[T]:
        """``job(pki)`` on the worker thread after every job handed in before it."""
        return self._lock.run(deferToThread, job, self.pki)

    def stop(self) -> Deferred[None]:
        """Fires once the job running now has finished."""
        idle = self._lock.acquire()
        return idle.addCallback(lambda lock: lock.release())
