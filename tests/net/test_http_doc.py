"""docs/http.md stays true: every path and method of the real resource tree is on the
page and nothing else is; each method a path does not list is refused; the limits written
are the code's; and every ``sh`` example block of the page is run, line by line, against
a real HTTP side on a loopback port: each ``curl`` gets the status (and content type)
written beside it, each ``openssl`` line exits 0 on the files the block fetched."""

from __future__ import annotations

import base64
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.web.resource import Resource

from fakepeer.errors import ScenarioError
from fakepeer.net import http as http_side
from fakepeer.net.http import ControlActions, build_site, build_site_root
from fakepeer.net.http_access import CONTROL_CONTENT_TYPE
from fakepeer.net.http_server import MAX_REQUEST_BODY, HttpLog
from fakepeer.net.pki_worker import PkiWorker
from fakepeer.report.board import StatusBoard
from fakepeer.report.events import Event
from fakepeer.scenario.load import load_catalogue, scenario_dirs
from tests.conftest import make_pki, require
from tests.net.test_http import fetch

pytestmark = pytest.mark.loopback

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "http.md").read_text(encoding="utf-8")
#: What the examples' placeholders stand for when a path is requested for real.
SAMPLE = {"<id>": "digicert-global-root-g2", "<ca-id>": "digicert-global-root-g2",
          "<request>": "MAo="}
#: The scenario the test's control API plays (it has a timeline of phases).
SERVED = "staged-rollout"


def sections(text: str) -> dict[str, str]:
    parts = re.split(r"^#{2,3} (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def table(text: str) -> dict[str, list[str]]:
    """The first table in ``text``: first cell (unquoted) -> the other cells."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    rows = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


SECTIONS = sections(PAGE)
FLAT = " ".join(PAGE.split())  # the page's prose, line breaks as spaces
PATHS = table(SECTIONS["Paths"])


def child_of(pattern: str) -> str:
    """The resource tree child a documented path is served by (``""`` for ``/``)."""
    return pattern.split("/")[1]


def documented_methods(child: str) -> set[str]:
    return {m.strip() for pattern, cells in PATHS.items() if child_of(pattern) == child
            for m in cells[0].split(",")}


def served_methods(resource: Resource) -> set[str]:
    """The methods a leaf renders. Every leaf has ``render_HEAD`` (``http.Leaf``), which
    answers HEAD only where there is a GET and refuses it elsewhere."""
    methods = {name.removeprefix("render_") for name in dir(resource)
               if name.startswith("render_")}
    if "GET" not in methods:
        methods.discard("HEAD")
    return methods


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """``/ca/<id>.pem`` -> a regex for the concrete paths it stands for."""
    parts = re.split(r"(<[^>]+>)", pattern)
    any_of = {"<request>": ".+"}  # base64 has slashes
    return re.compile("".join(any_of.get(p, "[^/]+") if p.startswith("<") else re.escape(p)
                              for p in parts) + r"\Z")


def sample_path(pattern: str) -> str:
    for placeholder, value in SAMPLE.items():
        pattern = pattern.replace(placeholder, value)
    return pattern


def row_for(path: str) -> str | None:
    """The documented path ``path`` is one of (None: a name under a path that has none)."""
    matches = [p for p in PATHS if pattern_regex(p).match(path)]
    return matches[0] if matches else None


def actions() -> ControlActions:
    """The control API's actions as serve has them: a scenario of the shipped catalogue,
    a phase of the served scenario's timeline; anything else is a ScenarioError."""
    catalogue = load_catalogue(scenario_dirs())
    phases = len(catalogue[SERVED].phases)

    def switch(name: str) -> str:
        if name not in catalogue:
            raise ScenarioError(f"no scenario {name!r}")
        return f"now serving scenario {name}"

    def jump(index: int) -> str:
        if not 0 <= index < phases:
            raise ScenarioError(f"phase {index} does not exist (0-{phases - 1})")
        return f"phase {index} of {SERVED}"

    return ControlActions(switch, jump)


# --- the tree ----------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path):
    """The real resource tree, built as serve builds it (nothing is made until asked)."""
    return build_site_root(PkiWorker(make_pki(tmp_path / "certs")), StatusBoard(),
                           actions(), None, HttpLog())


def test_every_child_of_the_tree_is_documented_and_nothing_else(tree):
    """The page's paths are served by exactly the tree's children, each a leaf (so no
    deeper path exists that the page could miss)."""
    children = {name.decode(): resource for name, resource in tree.children.items()}
    assert {child_of(p) for p in PATHS} == set(children)
    for name, resource in children.items():
        assert resource.isLeaf, f"/{name} has children of its own"


def test_every_method_of_each_leaf_is_documented_and_nothing_else(tree):
    for name, resource in tree.children.items():
        child = name.decode()
        assert documented_methods(child) == served_methods(resource), f"/{child}"


def test_the_logged_statuses_sentence_is_read():
    """The live test checks each example's event against LOGGED: it must not be empty."""
    assert LOGGED, "docs/http.md: the 'Logged answers' item lists no status"


def test_the_limits_written_are_the_code_s():
    assert f"{MAX_REQUEST_BODY} bytes (64 KiB)" in FLAT
    assert MAX_REQUEST_BODY == 64 * 1024
    assert f"at most {http_side.MAX_SCENARIO_NAME} characters" in SECTIONS["Control"]
    assert f"over {http_side.MAX_OCSP_REQUEST} bytes" in FLAT
    assert http_side.CERTIFICATE_ID.pattern.endswith("{0,199}")  # 200 characters in all
    assert "at most 200 characters; anything else is not looked up" in FLAT
    assert f"`Content-Type: {CONTROL_CONTENT_TYPE}`" in SECTIONS["Control"]


def test_the_status_json_keys_are_not_promised():
    """``/status``: a snapshot, see the page; its keys may change (they are not listed)."""
    answers = PATHS["/status"][1]
    assert "JSON snapshot" in answers and "see the page" in answers
    assert "`scenario`" not in SECTIONS["Status"]


# --- live --------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    content_type: str  # the media type, without parameters
    body: bytes


@pytest_twisted.async_yield_fixture
async def http_port(session_store):
    """``http_port(token)``: the port of a real HTTP side over the shared store (one per
    test), stopped with its PKI worker afterwards."""
    started = []

    def start(token: str | None = None, events: list[Event] | None = None) -> int:
        assert not started, "one HTTP side per test"
        sink = events.append if events is not None else None
        site = build_site(make_pki(session_store), StatusBoard(), actions(), token, sink=sink)
        started.append((reactor.listenTCP(0, site, interface="127.0.0.1"), site))
        return int(started[0][0].getHost().port)

    yield start
    if started:
        port, site = started[0]
        await port.stopListening()
        await site.worker.stop()


async def send(port: int, method: str, path: str, body: bytes | None = None,
               headers: dict[str, str] | None = None) -> Answer:
    status, reply, kind = await fetch(port, method, path, body, headers)
    return Answer(status, kind.split(";")[0].strip(), reply)


@dataclass
class Curl:
    """One ``curl`` line of the page, read as curl reads it (the options the page uses)."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    output: str | None = None


def read_curl(words: list[str], folder: Path, variables: dict[str, str]) -> Curl:
    method, url, headers, body, output = None, None, {}, None, None
    words = iter(words[1:])
    for word in words:
        if word in ("-i", "-s"):
            continue
        if word == "-I":
            method = "HEAD"
        elif word == "-X":
            method = next(words)
        elif word == "-o":
            output = next(words)
        elif word == "-O":
            output = ""  # the URL's last segment, below
        elif word == "-H":
            name, _, value = next(words).partition(":")
            headers[name.strip()] = value.strip()
        elif word in ("-d", "--data"):
            body = next(words).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif word == "--data-binary":
            data = next(words)
            body = (folder / data[1:]).read_bytes() if data.startswith("@") else data.encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif word.startswith("http://"):
            url = word
        else:
            pytest.fail(f"this test cannot read the curl option {word!r}")
    assert url is not None, "a curl line without a URL"
    for name, value in variables.items():
        url = url.replace(f"${name}", value)
    parts = urlsplit(url)
    assert (parts.hostname, parts.port) == ("127.0.0.1", 8080), "examples use 127.0.0.1:8080"
    if output == "":
        output = parts.path.rsplit("/", 1)[1]
    return Curl(method or ("POST" if body is not None else "GET"), parts.path, headers, body,
                output)


@dataclass
class Example:
    line: str
    status: int | None = None
    content_type: str | None = None


def example_lines(block: str) -> list[Example]:
    out = []
    for line in block.splitlines():
        command, hash_, note = line.partition(" # ")
        status = kind = None
        if hash_:
            written = note.split()
            status = int(written[0])
            kind = written[1] if len(written) > 1 else None
        out.append(Example(command.strip(), status, kind))
    return out


FENCE = re.compile(r"^```sh\n(.*?)^```$", re.M | re.S)
BLOCKS = [(heading, index, body) for heading, text in SECTIONS.items()
          for index, body in enumerate(FENCE.findall(text))]
#: The statuses the page says are logged, one event each.
LOGGED = {int(s) for s in re.findall(r"\d{3}", FLAT.split("- Logged answers: each of")[1]
                                                  .split(" is one ")[0])}
ASSIGN_BASE64 = re.compile(r"(\w+)=\$\(base64 -w0 (\S+)\)\Z")


@pytest.mark.parametrize(("heading", "index", "block"), BLOCKS,
                         ids=[f"{h}-{i}" for h, i, _ in BLOCKS])
@pytest_twisted.ensureDeferred
async def test_every_example_block_runs_as_written(http_port, tmp_path, heading, index,
                                                   block):
    """Line by line, in one folder: curl lines are sent (the files they save kept for the
    next lines), openssl lines run, ``VAR=$(base64 -w0 FILE)`` sets a variable."""
    token = re.search(r"`fakepeer serve [^`]*--http-token (\S+?)`", SECTIONS[heading])
    events: list[Event] = []
    port = http_port(token[1] if token else None, events)
    variables: dict[str, str] = {}
    curls = 0
    for example in example_lines(block):
        words = shlex.split(example.line)
        assigned = ASSIGN_BASE64.match(example.line)
        if assigned:
            encoded = base64.b64encode((tmp_path / assigned[2]).read_bytes()).decode()
            variables[assigned[1]] = encoded
        elif words[0] == "openssl":
            run = subprocess.run([require("openssl"), *words[1:]], cwd=tmp_path,
                                 capture_output=True, timeout=30, check=False)
            assert run.returncode == 0, f"{example.line}: {run.stderr.decode()}"
        elif words[0] == "curl":
            assert example.status is not None, f"{example.line}: no '# STATUS' written"
            curl = read_curl(words, tmp_path, variables)
            before = len(events)
            answer = await send(port, curl.method, curl.path, curl.body,
                                curl.headers)
            logged = [e for e in events[before:] if e.kind in ("http-refused", "http-error")]
            assert len(logged) == (answer.status in LOGGED), f"{example.line}: {logged}"
            assert answer.status == example.status, f"{example.line}: {answer}"
            if example.content_type:
                assert answer.content_type == example.content_type, example.line
            if curl.output:
                (tmp_path / curl.output).write_bytes(answer.body)
            row = row_for(curl.path)
            if row is None:  # a name no path has, under a path of the tree
                assert answer.status == 404, example.line
            else:
                assert str(answer.status) in PATHS[row][2] or answer.status in (405, 501), \
                    f"{example.line}: {answer.status} is not in the statuses of {row}"
            curls += 1
        else:
            pytest.fail(f"this test cannot run {example.line!r}")
    assert curls, "a block without a curl example"


SAMPLES = [(pattern, sample_path(pattern)) for pattern in PATHS]


@pytest.mark.parametrize(("pattern", "path"), SAMPLES, ids=[p for p, _ in SAMPLES])
@pytest_twisted.ensureDeferred
async def test_each_path_answers_its_methods_and_refuses_the_others(http_port, pattern,
                                                                    path):
    """GET, HEAD and POST: a method documented for the leaf that serves the path is
    answered (not 405), another gets 405."""
    port = http_port()
    allowed = documented_methods(child_of(pattern))
    headers = {"Content-Type": CONTROL_CONTENT_TYPE}
    for method in ("GET", "HEAD", "POST"):
        body = b'{"index": 0}' if method == "POST" else None
        answer = await send(port, method, path, body, headers if body else None)
        if method in allowed:
            assert answer.status not in (405, 501), f"{method} {path}: {answer}"
        else:
            assert answer.status == 405, f"{method} {path}: {answer}"
