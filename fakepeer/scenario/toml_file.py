# -*- test-case-name: tests.scenario.test_toml_file -*-
"""Reading the TOML files a user gives fakepeer (scenarios, rehearsal plans).

The one place that turns a path into a TOML document, so that every problem with the
file itself is the same kind of one-line error naming the file, the problem and the fix
(issue 12 items 10 and 12), never a traceback or a hang:

- a folder, a FIFO, a socket or a device where a file should be (a FIFO is opened without
  blocking, so nothing waits for a writer);
- a file the user may not read, or one that vanished;
- a file over :data:`MAX_TOML_BYTES`, refused before it is read;
- bytes that are not UTF-8 (the line is named);
- arrays or inline tables nested so deeply that Python's TOML reader recurses out;
- TOML syntax errors, with the line and column.

A UTF-8 byte-order mark at the start is accepted, with a note. It is valid UTF-8 and
carries no content; Windows editors wrote one by default for years; TOML's own test
suite and most parsers (Rust's ``toml``, Go's BurntSushi, Node's) accept one; only
Python's ``tomllib`` refuses it, with "Invalid statement (at line 1, column 1)". The note
says that other readers may refuse the file, so the user can still remove it.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakepeer.errors import FakepeerError, ScenarioError

#: Far beyond any real scenario or plan (the shipped ones are a few KB), small enough that
#: a wrong path (a log, an image, a capture) is refused before it is read into memory.
MAX_TOML_BYTES = 1024 * 1024

_TOML_POSITION = re.compile(r"^(?P<message>.*?) \(at (?:line (?P<line>\d+), column "
                            r"(?P<column>\d+)|end of document)\)$")
_FILE_TYPES = ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "named pipe (FIFO)"),
               (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
               (stat.S_ISBLK, "block device"))


@dataclass(frozen=True, slots=True)
class TomlDocument:
    """A parsed TOML file and the notes about how it was read (one line each)."""

    data: dict[str, Any]
    notes: tuple[str, ...] = ()


def _syntax_error(path: Path, exc: tomllib.TOMLDecodeError,
                  error: type[FakepeerError] = ScenarioError) -> FakepeerError:
    text = str(exc)
    match = _TOML_POSITION.match(text)
    if match is None:
        return error(f"{path}: TOML syntax error: {text}")
    if match["line"] is None:
        return error(f"{path}: at the end: TOML syntax error: {match['message']}")
    return error(f"{path}: line {match['line']}, column {match['column']}: TOML "
                 f"syntax error: {match['message']}")


def parse_toml(text: str, path: Path, error: type[FakepeerError] = ScenarioError,
               what: str = "scenario") -> TomlDocument:
    """Parse TOML ``text`` read from ``path`` (which names it in errors and notes)."""
    notes: list[str] = []
    if text.startswith("\ufeff"):
        text = text[1:]
        notes.append(f"{path}: starts with a UTF-8 byte-order mark, read as if it did not "
                     "(other TOML readers, Python's tomllib among them, refuse one: save "
                     "the file as UTF-8 without BOM to be safe)")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(path, exc, error) from None
    except RecursionError:
        raise error(f"{path}: arrays or inline tables nested too deeply to read; a {what} "
                    "needs only a few levels (is this the right file?)") from None
    return TomlDocument(data, tuple(notes))


def read_toml_text(path: Path, error: type[FakepeerError] = ScenarioError,
                   what: str = "scenario") -> str:
    """A TOML file's text, or ``error`` naming the file, the problem and the fix."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; regular files ignore it.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise error(_open_problem(path, exc)) from None
    try:
        raw = _read_file(descriptor, path, error, what)
    finally:
        os.close(descriptor)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise error(f"{path}: not UTF-8 text (byte {exc.start}) on line {line}; TOML files "
                    "are UTF-8: save it as UTF-8") from None


def load_toml(path: Path, error: type[FakepeerError] = ScenarioError,
              what: str = "scenario") -> TomlDocument:
    """Read and parse one TOML file: :func:`read_toml_text`, then :func:`parse_toml`."""
    return parse_toml(read_toml_text(path, error, what), path, error, what)


def _read_file(descriptor: int, path: Path, error: type[FakepeerError], what: str) -> bytes:
    """The bytes of a regular file, at most :data:`MAX_TOML_BYTES` of them."""
    info = os.fstat(descriptor)
    for is_type, kind in _FILE_TYPES:
        if is_type(info.st_mode):
            raise error(f"{path}: is a {kind}, not a file; a {what} is a regular file "
                        "ending in .toml")
    if info.st_size > MAX_TOML_BYTES:
        raise error(_too_big(path, info.st_size, what))
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_TOML_BYTES:  # it may have grown since fstat
        try:
            chunk = os.read(descriptor, MAX_TOML_BYTES + 1 - size)
        except OSError as exc:
            raise error(f"{path}: cannot read it: {exc.strerror or exc}") from None
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > MAX_TOML_BYTES:
        raise error(_too_big(path, size, what))
    return b"".join(chunks)


def _open_problem(path: Path, exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (f"{path}: cannot read it: permission denied; give this user read access "
                "(chmod or chown), or run fakepeer as a user who may read it")
    if exc.errno == errno.ENOENT:
        return f"{path}: cannot read it: no such file (was it moved or deleted?)"
    return f"{path}: cannot read it: {exc.strerror or exc}"


def _too_big(path: Path, size: int, what: str) -> str:
    return (f"{path}: {size} bytes is more than a {what} file may be ({MAX_TOML_BYTES} "
            "bytes); is this the right file?")
