"""fakepeer.sip stays sans-I/O: importing it pulls in neither Twisted nor pyOpenSSL."""

from __future__ import annotations

import subprocess
import sys


def test_import_pulls_no_twisted_or_openssl():
    """A fresh interpreter that imports fakepeer.sip has no twisted or OpenSSL module loaded."""
    probe = (
        "import sys, fakepeer.sip\n"
        "assert 'fakepeer.sip.connection' in sys.modules\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('twisted', 'OpenSSL'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""
