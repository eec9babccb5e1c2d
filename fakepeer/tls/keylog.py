"""A Wireshark key log: the TLS secrets of every connection, in the NSS key log format.

An engineer who captures a rehearsal (tcpdump, Wireshark) can open it decrypted and read
the OPTIONS and answers on the wire. That defeats the encryption on purpose, so the file
is created owner-only (0600) and the command that opens it says so in its banner.

One line per secret, appended with a single ``write`` so two connections never interleave
inside a line (the format Wireshark and NSS read: ``CLIENT_RANDOM <hex> <hex>``, or the
TLS 1.3 labels). A key log that stops being writable (a full disk) does not stop serving:
the first error is kept for the command to report, and the lines not written are counted.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

from OpenSSL import SSL

from fakepeer.errors import ConfigError

#: The environment variable browsers, curl and NSS read; fakepeer honours it too.
SSLKEYLOGFILE = "SSLKEYLOGFILE"


class KeyLog:
    """An open key log file. Use :func:`open_key_log` (it turns OS errors into one line)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self.written = 0
        self.lost = 0
        self.error: str | None = None

    def record(self, conn: SSL.Connection, line: bytes) -> None:
        """pyOpenSSL's key log callback: append ``line``, never raise into OpenSSL."""
        if self._fd < 0:
            self.lost += 1
            return
        try:
            os.write(self._fd, line + b"\n")
        except OSError as exc:
            self.lost += 1
            if self.error is None:
                self.error = f"cannot write the key log {self.path}: {exc.strerror or exc}"
        else:
            self.written += 1

    def install(self, ctx: SSL.Context) -> None:
        """Have ``ctx`` report every connection's secrets here."""
        ctx.set_keylog_callback(self.record)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def summary(self) -> str:
        """One line for the end of a run."""
        line = f"key log {self.path}: {self.written} secrets written"
        if self.lost:
            line += f", {self.lost} lost ({self.error or 'the file was closed'})"
        return line


def open_key_log(path: str | os.PathLike[str], *, source: str = "--keylog") -> KeyLog:
    """Open (append to) the key log at ``path``, owner-only.

    Raises :class:`ConfigError` naming ``source`` (the option or variable that named
    it), the path, the problem and the fix.
    """
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{source} {target}: is a folder; name a file, e.g. "
                          f"{target / 'fakepeer.keys'}")
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ConfigError(f"{source} {target}: cannot open it ({exc.strerror or exc}); "
                          f"choose a writable file") from None
    # an existing file keeps its mode on open: make it owner-only all the same (one we may
    # append to but not chmod, someone else's, is still usable)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o600)
    return KeyLog(target, fd)


def key_log_from(option: str | None, env: Mapping[str, str]) -> KeyLog | None:
    """The key log to write: ``--keylog`` first, else ``SSLKEYLOGFILE`` if set and not
    empty, else none."""
    if option:
        return open_key_log(option)
    if env.get(SSLKEYLOGFILE):
        return open_key_log(env[SSLKEYLOGFILE], source=SSLKEYLOGFILE)
    return None
