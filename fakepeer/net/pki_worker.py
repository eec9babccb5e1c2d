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

from twisted.internet.defer import Deferred, DeferredLock, ensureDeferred
from twisted.internet.threads import deferToThread

from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.store import CertStore

T = TypeVar("T")

#: CAs made per job while preparing. One: a request arriving meanwhile waits for at
#: most one CA's keys (a batch of four RSA-4096 CAs kept a GET waiting 6 s on a busy
#: 2-core machine), and preparing keeps mostly to one core, leaving the other to SBCs.
PREPARE_BATCH = 1


class PkiWorker:
    """Runs PKI jobs on a worker thread, one at a time, on a private copy of a Pki."""

    def __init__(self, pki: Pki) -> None:
        self.pki = Pki(CertStore(pki.store.root, pki.store.variant), pki.options, pki.cas)
        self._lock = DeferredLock()
        self._stopped = False
        self._preparing = False
        self.prepared: Deferred[None] = Deferred()

    def run(self, job: Callable[[Pki], T]) -> Deferred[T]:
        """``job(pki)`` on the worker thread after every job handed in before it."""
        return self._lock.run(deferToThread, job, self.pki)

    def prepare(self, report: Callable[[str], None]) -> Deferred[None]:
        """Make (or load) every CA certificate of the catalogue now, ``PREPARE_BATCH``
        per job so that requests arriving meanwhile get in between; ``prepared`` fires
        when done.
        A failure is reported once; requests then make what they need one by one."""
        if self._preparing:
            return self.prepared
        self._preparing = True

        async def batches() -> None:
            ids = sorted(self.pki.cas)
            try:
                for start in range(0, len(ids), PREPARE_BATCH):
                    if self._stopped:
                        return
                    await self.run(_maker(ids[start:start + PREPARE_BATCH]))
            except Exception as exc:  # reported, never raised: serving goes on
                report(f"could not make the CA certificates up front: {exc}")

        done = ensureDeferred(batches())
        done.addBoth(lambda _: self.prepared.callback(None))
        return self.prepared

    def stop(self) -> Deferred[None]:
        """Start no more preparation; fires once the job running now has finished."""
        self._stopped = True
        idle = self._lock.acquire()
        return idle.addCallback(lambda lock: lock.release())


def _maker(ids: list[str]) -> Callable[[Pki], object]:
    def make(pki: Pki) -> object:
        return pki.certificates(ids)
    return make
