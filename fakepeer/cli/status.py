"""Named exit codes, so scripts around fakepeer can tell outcomes apart."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    SUCCESS = 0
    ERROR = 1  # a FakepeerError: bad input, damaged store, impossible request
    USAGE = 2  # argparse's own code for a malformed command line
    PEER_FAILED = 3  # the peer (or fakepeer's check of it) did not accept the other side
    ERROR_CTRL_C = 130
