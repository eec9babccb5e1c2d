"""``--keylog FILE`` (and ``SSLKEYLOGFILE``) for the commands that make TLS connections:
serve (and its dial-back), probe and rehearse.

The command opens the key log before it starts, says so (the file defeats the
encryption on purpose), and closes it when its job ends, with one line if secrets were
lost (a full disk never stops a rehearsal).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from twisted.internet.defer import Deferred

from fakepeer.app.runner import Job
from fakepeer.cli.environment import Environment
from fakepeer.tls.keylog import SSLKEYLOGFILE, KeyLog, key_log_from


def add_keylog_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keylog", default=None, metavar="FILE",
                        help="append every connection's TLS secrets to FILE (NSS key log "
                             "format, 0600) so Wireshark decrypts a capture of this run "
                             f"(default ${SSLKEYLOGFILE} when set)")


def open_keylog(args: argparse.Namespace, env: Environment) -> KeyLog | None:
    """The key log the command line or ``SSLKEYLOGFILE`` names, opened and announced."""
    keylog = key_log_from(getattr(args, "keylog", None), env.variables)
    if keylog is not None:
        env.warn(f"fakepeer: writing TLS secrets to {keylog.path} (key log, mode 0600): "
                 "anyone holding it can decrypt captures of this run")
    return keylog


@dataclass
class KeyLoggedJob:
    """``job``, closing ``keylog`` when it ends (and saying so if lines were lost)."""

    job: Job
    keylog: KeyLog
    env: Environment

    def start(self) -> Deferred[int]:
        def close(result: object) -> object:
            self.keylog.close()
            if self.keylog.lost:
                self.env.warn(f"fakepeer: {self.keylog.summary()}")
            return result

        return self.job.start().addBoth(close)

    def interrupt(self) -> None:
        self.job.interrupt()

    def reload(self) -> None:
        self.job.reload()


def with_keylog(job: Job, keylog: KeyLog | None, env: Environment) -> Job:
    """``job`` unchanged without a key log, else wrapped to close it at the end."""
    return job if keylog is None else KeyLoggedJob(job, keylog, env)
