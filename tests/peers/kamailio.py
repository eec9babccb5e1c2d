"""Kamailio from Debian's packages as a real SIP-over-TLS peer on loopback.

Configured like an SBC's TLS listener: it answers OPTIONS with ``sl_send_reply`` (200),
everything else with 503, and its tls.cfg decides whether it verifies and requires the
other side's certificate and which roots it trusts. Used by tests (an SBC that fakepeer
dials) and by the benchmark (the C reference serving OPTIONS over TLS).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")

_PINGER_MODULES = """
loadmodule "tm.so"
loadmodule "pv.so"
loadmodule "dispatcher.so"
loadmodule "xlog.so"
"""

_PINGER = """
modparam("dispatcher", "list_file", "{folder}/dispatcher.list")
modparam("dispatcher", "ds_ping_interval", 1)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_ping_from", "sip:{fqdn}:5061;transport=tls")
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_inactive_threshold", 1)
event_route[tm:local-request] {{
    if (is_method("OPTIONS")) {{
        append_hf("Contact: <sip:{fqdn}:5061;transport=tls>\\r\\n");
    }}
}}
event_route[dispatcher:dst-up] {{
    xlog("L_ALERT", "fakepeer-test: destination up $ru\\n");
}}
event_route[dispatcher:dst-down] {{
    xlog("L_ALERT", "fakepeer-test: destination down $ru\\n");
}}
"""

_CONFIG = """#!KAMAILIO
debug={debug}
log_stderror=yes
fork=yes
children={children}
tcp_children={children}
enable_tls=yes
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=off
listen=tls:127.0.0.1:{port}
tcp_connection_lifetime=3600
tcp_max_connections=20000
tls_max_connections=20000
mpath="{modules}/"
{pinger_modules}
loadmodule "sl.so"
loadmodule "textops.so"
loadmodule "tls.so"
modparam("tls", "config", "{folder}/tls.cfg")
{pinger}
request_route {{
    if (is_method("OPTIONS")) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    sl_send_reply("503", "Service Unavailable");
}}
"""

_TLS = """[server:default]
method = {method}
verify_certificate = {verify}
require_certificate = {require}
certificate = {folder}/chain.pem
private_key = {folder}/key.pem
{ca_line}
cipher_list = {ciphers}

[client:default]
method = TLSv1.2
verify_certificate = {client_verify}
require_certificate = {client_verify}
certificate = {folder}/chain.pem
private_key = {folder}/key.pem
{client_ca_line}
"""


@dataclass
class Kamailio:
    port: int
    folder: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return (self.folder / "kamailio.log").read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def kamailio(folder: Path, chain_pem: bytes, key_pem: bytes, *, ca_pem: bytes | None = None,
             require_certificate: bool = False, method: str = "TLSv1.2+",
             ciphers: str = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
                            "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256",
             children: int = 2, debug: int = 1, ping: str | None = None,
             fqdn: str = "sbc.lab.example", server_ca_pem: bytes | None = None,
             ca_setting: tuple[str, Path] | None = None, launcher: Sequence[str] = (),
             shared_memory_mb: int = 256, server_ca_setting: tuple[str, Path] | None = None,
             ping_starts_down: bool = False) -> Iterator[Kamailio]:
    """Run Kamailio on an ephemeral 127.0.0.1 port until the block ends.

    With ``ping`` (``host:port``) it also acts as an SBC's dispatcher: it pings that
    address with OPTIONS over TLS every second, presenting ``chain_pem`` as its client
    certificate with ``fqdn`` in Contact, and (given ``server_ca_pem``) verifying the
    server's chain against it. ``ca_setting`` (``("ca_list", file)`` or ``("ca_path",
    folder)``) points the server's trust at files of the caller's, as exported.
    ``launcher`` goes before the command (the benchmark pins Kamailio to one core with
    ``("taskset", "-c", "0")``); ``shared_memory_mb`` sizes its shared memory (``-m``),
    which holds every TLS connection's state. ``server_ca_setting`` does for the pinger's
    trust what ``ca_setting`` does for the listener's (an exported ``ca_list`` file or
    ``ca_path`` folder); the pinger sends no SNI. With ``ping_starts_down`` the
    destination starts inactive and probing, so Kamailio's own log says when a ping got
    its 200 OK ("fakepeer-test: destination up").
    """
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    if not Path(binary).exists():
        raise RuntimeError("kamailio is not installed; scripts/setup.sh --test installs it")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chain.pem").write_bytes(chain_pem)
    (folder / "key.pem").write_bytes(key_pem)
    ca_line = ""
    if ca_pem is not None:
        (folder / "ca.pem").write_bytes(ca_pem)
        ca_line = f"ca_list = {folder}/ca.pem"
    if ca_setting is not None:
        ca_line = f"{ca_setting[0]} = {ca_setting[1]}"
    port = free_port()
    client_ca_line = ""
    if server_ca_pem is not None:
        (folder / "server-ca.pem").write_bytes(server_ca_pem)
        client_ca_line = f"ca_list = {folder}/server-ca.pem"
    if server_ca_setting is not None:
        client_ca_line = f"{server_ca_setting[0]} = {server_ca_setting[1]}"
    client_verify = server_ca_pem is not None or server_ca_setting is not None
    (folder / "tls.cfg").write_text(_TLS.format(
        method=method, verify="yes" if ca_line else "no",
        require="yes" if require_certificate else "no", folder=folder, ca_line=ca_line,
        ciphers=ciphers, client_verify="yes" if client_verify else "no",
        client_ca_line=client_ca_line))
    pinger = ""
    if ping is not None:
        # Flags 9: inactive and probing, so the first 200 OK brings it up (and says so).
        flags = " 9" if ping_starts_down else ""
        (folder / "dispatcher.list").write_text(f"1 sip:{ping};transport=tls{flags}\n")
        pinger = _PINGER.format(folder=folder, fqdn=fqdn)
    (folder / "kamailio.cfg").write_text(_CONFIG.format(
        debug=debug, children=children, port=port, modules=MODULES, folder=folder,
        pinger=pinger, pinger_modules=_PINGER_MODULES if ping is not None else ""))
    log = (folder / "kamailio.log").open("wb")
    process = subprocess.Popen(
        [*launcher, binary, "-f", str(folder / "kamailio.cfg"), "-DD", "-E", "-Y", str(folder),
         "-m", str(shared_memory_mb), "-M", "32"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("kamailio exited: " + (folder / "kamailio.log").read_text())
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("kamailio did not listen within 15 s")
        yield Kamailio(port, folder, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
