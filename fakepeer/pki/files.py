"""Files fakepeer writes: whole or not at all, with modes that do not depend on the umask,
and operating-system errors told as one line that names the file, the problem and a fix.

Used by the certificate store and by the exports, which write the same kinds of files
(keys, certificates, bundles) for the same user.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import re
import stat
import tempfile
from pathlib import Path

#: A file holding a private key (a PEM key, a PKCS#12 with its key): its owner only.
PRIVATE_FILE = 0o600
#: A certificate, a bundle, a description: anyone may read it, nobody else may change it.
PUBLIC_FILE = 0o644
#: A folder holding keys, or the certificate store itself.
PRIVATE_FOLDER = 0o700

#: The temporary names :func:`atomic_write` uses: ``.<name>.<8 random characters>.tmp``
#: (``tempfile.mkstemp``'s alphabet). Only files with such names are ever cleaned up.
TEMPORARY_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def atomic_write(path: Path, data: bytes, mode: int, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one,
    never a part: a temporary file in the same folder, then renamed into place. On any
    error (a full disk included) the temporary file is removed and the old file stays as
    it was.

    ``durable`` also flushes the data to the disk before the rename (``fsync``), so that
    a power cut cannot leave an empty file under the name; it costs about 4 ms a file
    here. A killed process needs no ``fsync``: the kernel still writes what it was given.

    A symbolic link is written through (its target is replaced, not the link). Something
    that is not a regular file (``/dev/stdout``, a FIFO, ``/dev/full``) is written to in
    place: renaming over it would replace a device with a file."""
    try:
        existing = path.stat()
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        if stat.S_ISDIR(existing.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        with path.open("wb") as handle:
            handle.write(data)
        return
    path = path.resolve() if path.is_symlink() else path
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise


def make_folder(path: Path, mode: int) -> bool:
    """Create ``path`` (and missing parents, with the usual modes) and give the folder
    itself exactly ``mode``. An existing folder is left as it is. True if it was made."""
    if is_folder(path):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode)
    except FileExistsError:
        if not path.is_dir():
            raise
        return False  # another process made it in the meantime
    path.chmod(mode)
    return True


def remove_leftovers(folder: Path) -> list[Path]:
    """Delete the temporary files :func:`atomic_write` left in ``folder`` when its process
    was killed. Only call it while no other writer can be at work there (the store calls
    it under its exclusive lock); only fakepeer's own temporary names are touched."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []  # no such folder (yet), or not ours to clean
    for entry in entries:
        if TEMPORARY_NAME.match(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(OSError):
                Path(entry.path).unlink()
                removed.append(Path(entry.path))
    return removed


def mode_text(mode: int) -> str:
    """``0600`` as ``ls -l`` users and ``chmod`` read it."""
    return f"{mode:04o}"


# -- operating-system errors as one line -------------------------------------------------


def is_folder(path: Path) -> bool:
    """``path.is_dir()`` that says no, rather than raising, where the user may not look."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _access_problem(path: Path) -> tuple[str, str]:
    """Why ``path`` (or, when it cannot be looked at, its nearest parent that can) refuses
    access, and the fix: another owner, or a mode that leaves its owner out."""
    for candidate in (path, *path.parents):
        try:
            info = candidate.stat()
        except OSError:
            continue
        if info.st_uid != os.geteuid():
            try:
                name = pwd.getpwuid(info.st_uid).pw_name
            except KeyError:
                name = f"uid {info.st_uid}"
            return (f"{candidate} belongs to {name} (uid {info.st_uid}); you are uid "
                    f"{os.geteuid()}", f"Run fakepeer as {name}, or take it over "
                                       f"(sudo chown -R $USER {candidate})")
        return (f"{candidate} is mode {info.st_mode & 0o7777:04o}",
                f"Give yourself access (chmod u+rwX {candidate})")
    return "", "Check the permissions of the path"


def explain_os_error(exc: OSError, doing: str, path: Path | None = None, *,
                     elsewhere: str = "", writing: bool = False) -> str:
    """One line for an ``OSError``: the file, what fakepeer was doing, the problem and a fix.

    ``doing`` completes "cannot ...", e.g. "read the private key"; ``path`` names the file
    meant (rather than a temporary file the error may name); ``elsewhere`` is the caller's
    way to use another place, e.g. "use another store with --certs DIR". ``writing`` says
    that a file was to be created, so the folder's owner is the one that matters.
    """
    where = path if path is not None else Path(exc.filename) if exc.filename else None
    prefix = f"{where}: " if where is not None else ""
    alternative = f", or {elsewhere}" if elsewhere else ""
    code = exc.errno
    if code in (errno.EACCES, errno.EPERM):
        folder = where.parent if writing and where is not None and not is_folder(where) else where
        why, fix = _access_problem(folder) if folder is not None else ("", "Check permissions")
        problem = f"permission denied ({why})" if why else "permission denied"
        fix = f"{fix}{alternative}."
    elif code == errno.EROFS:
        problem = "read-only file system"
        fix = f"Mount it read-write{alternative}."
    elif code in (errno.ENOSPC, errno.EDQUOT):
        problem = "no space left on device" if code == errno.ENOSPC else "disk quota exceeded"
        fix = f"Nothing half-written was kept. Free some space{alternative}, and run it again."
    elif code == errno.ENOTDIR:
        problem = "a part of this path is a file, not a folder"
        fix = f"Remove or rename that file{alternative}."
    elif code == errno.EISDIR:
        problem = "this is a folder where a file was expected"
        fix = f"Remove or rename the folder{alternative}."
    elif code == errno.ENOENT:
        problem = "no such file or folder"
        fix = f"Check the path{alternative}."
    else:
        problem = exc.strerror or type(exc).__name__
        fix = f"Check the path{alternative}." if alternative else ""
    return f"{prefix}cannot {doing}: {problem}. {fix}".rstrip()
