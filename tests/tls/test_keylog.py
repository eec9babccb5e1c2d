"""The Wireshark key log: what OpenSSL's own clients write, fakepeer writes too."""

import stat

import pytest
import pytest_twisted

from fakepeer.errors import ConfigError
from fakepeer.tls import MICROSOFT, ClientConnectionCreator, ServerConnectionCreator, TlsPolicy
from fakepeer.tls.keylog import SSLKEYLOGFILE, key_log_from, open_key_log

pytestmark = pytest.mark.loopback

NAME = "sip.pstnhub.microsoft.com"


def _lines(path):
    return [line for line in path.read_text().splitlines() if line]


@pytest_twisted.ensureDeferred
async def test_the_server_logs_what_s_client_logs(tls_pki, listen, s_client, tmp_path):
    """A TLS 1.2 handshake with openssl s_client: fakepeer's key log holds exactly the
    CLIENT_RANDOM line s_client's own ``-keylogfile`` holds, in a 0600 file."""
    ours, theirs = tmp_path / "fakepeer.keys", tmp_path / "s_client.keys"
    keylog = open_key_log(ours)
    server = listen(lambda sink: ServerConnectionCreator.from_chains(
        MICROSOFT.with_client_certificate("off"), [tls_pki.proxy], on_observation=sink,
        keylog=keylog))
    run = await s_client(server.port, "-servername", NAME, "-tls1_2",
                         "-keylogfile", str(theirs))
    await server.settled()
    keylog.close()
    assert "Cipher is ECDHE-RSA" in run.output, run.output
    [line] = _lines(theirs)[-1:]
    assert line.startswith("CLIENT_RANDOM ")
    assert _lines(ours) == [line]
    assert stat.S_IMODE(ours.stat().st_mode) == 0o600
    assert keylog.summary() == f"key log {ours}: 1 secrets written"


def test_both_ends_log_the_same_tls13_secrets(tls_pki, handshake_in_memory, tmp_path):
    """The dialling side logs too, and in TLS 1.3 both ends write the same five labels."""
    server_log, client_log = (open_key_log(tmp_path / n) for n in ("server", "client"))
    server = ServerConnectionCreator.from_chains(
        TlsPolicy(), [tls_pki.proxy], client_trust=[tls_pki.sbc_root], keylog=server_log)
    client = ClientConnectionCreator(TlsPolicy(), tls_pki.sbc, [tls_pki.proxy_root],
                                     server_name=NAME, keylog=client_log)
    result = handshake_in_memory(server, client)
    server_log.close()
    client_log.close()
    assert result.server.handshake_done
    written = sorted(_lines(tmp_path / "server"))
    assert written == sorted(_lines(tmp_path / "client"))
    assert {line.split()[0] for line in written} == {
        "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_TRAFFIC_SECRET_0", "CLIENT_TRAFFIC_SECRET_0", "EXPORTER_SECRET"}


def test_an_existing_file_is_appended_to_and_made_owner_only(tmp_path):
    path = tmp_path / "keys"
    path.write_text("CLIENT_RANDOM aa bb\n")
    path.chmod(0o644)
    keylog = open_key_log(path)
    keylog.record(None, b"CLIENT_RANDOM cc dd")
    keylog.close()
    assert _lines(path) == ["CLIENT_RANDOM aa bb", "CLIENT_RANDOM cc dd"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(("where", "says"), [
    ("folder", "is a folder; name a file"),
    ("missing/keys", "cannot open it (No such file or directory); choose a writable file"),
])
def test_a_key_log_that_cannot_be_opened_is_one_line(tmp_path, where, says):
    (tmp_path / "folder").mkdir()
    with pytest.raises(ConfigError) as caught:
        open_key_log(tmp_path / where)
    assert str(caught.value).startswith(f"--keylog {tmp_path / where}: {says}")


def test_a_full_disk_loses_lines_and_says_so_once():
    """/dev/full: serving goes on, the loss is counted and the first error kept."""
    keylog = open_key_log("/dev/full")
    for _ in range(3):
        keylog.record(None, b"CLIENT_RANDOM aa bb")
    keylog.close()
    assert keylog.summary() == ("key log /dev/full: 0 secrets written, 3 lost "
                                "(cannot write the key log /dev/full: No space left on device)")


def test_sslkeylogfile_is_honoured_and_the_option_wins(tmp_path):
    option, env = tmp_path / "option.keys", tmp_path / "env.keys"
    assert key_log_from(None, {}) is None
    assert key_log_from(None, {SSLKEYLOGFILE: ""}) is None
    from_env = key_log_from(None, {SSLKEYLOGFILE: str(env)})
    assert from_env is not None and from_env.path == env
    from_env.close()
    chosen = key_log_from(str(option), {SSLKEYLOGFILE: str(env)})
    assert chosen is not None and chosen.path == option
    chosen.close()
    with pytest.raises(ConfigError, match=f"^{SSLKEYLOGFILE} {tmp_path}: is a folder"):
        key_log_from(None, {SSLKEYLOGFILE: str(tmp_path)})
    assert env.exists() and option.exists()
