"""The report as data and its three renderings, from hand-made run records: outcomes and
the result, the JSON, the terminal table, and the HTML page (structure, hostile strings
from the network, and a real render in headless Chromium)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from fakepeer.rehearse.plan import Plan, PlanStep
from fakepeer.rehearse.render import printable, render_html, render_table
from fakepeer.rehearse.report import build_report
from fakepeer.rehearse.runner import PhaseInfo, PreparedStep, RunRecord, StepRecord
from fakepeer.report.events import Event

T0 = datetime(2026, 8, 25, 9, 0, tzinfo=UTC)
EVIL_SNI = '"><script>alert("sni")</script>'
EVIL_SUBJECT = "CN=</td><img src=x onerror=alert(1)>,O=\x1b[2Jwiped\u202eevil"
EVIL_URI = "OPTIONS sip:<svg onload=alert(2)>@sbc.example SIP/2.0"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def connection(number: int, start: float, outcome: str, reason: str, *,
               sni: str = "sip.pstnhub.microsoft.com", subject: str = "CN=sbc.lab.example",
               request: str = "OPTIONS sip:sip.pstnhub.microsoft.com:5061;transport=tls",
               label: str = "x") -> list[Event]:
    peer = f"192.0.2.10:{40000 + number}"
    return [
        Event("tcp-accepted", number, peer, "TCP connection accepted", {}, at(start)),
        Event("tls-established", number, peer, f"TLSv1.2; SNI {sni}",
              {"sni": sni, "client_certificate": {"subject": subject}}, at(start + 0.1)),
        Event("sip-request", number, peer, request, {"method": "OPTIONS"}, at(start + 0.2)),
        Event("verdict", number, peer, "verdict", {
            "tls": "Active", "tls_reason": "", "options": "Active", "options_reason": "",
            "outcome": outcome, "outcome_reason": reason, "scenario": label}, at(start + 1)),
    ]


def prepared(catalogue, name: str, step: PlanStep) -> PreparedStep:
    scenario = catalogue[name]
    info = tuple(PhaseInfo(phase.name, phase.description, phase.ends,
                           effective.expectation.summary())
                 for phase, effective in scenario.timeline())
    return PreparedStep(step, scenario, (), info)


def step_record(catalogue, number: int, step: PlanStep, start: float, end: float,
                events: list[Event], ended_by: str = "connections") -> StepRecord:
    listening = Event("listening", 0, "127.0.0.1:5061", "listening", {"port": 5061}, at(start))
    return StepRecord(number, prepared(catalogue, step.scenario, step), at(start), at(end),
                      ended_by, ["127.0.0.1:5061"], [listening, *events])


STEPS = (PlanStep("baseline-microsoft-2026", until_connections=2, note="before <the change>"),
         PlanStep("24-hour-test-flip", duration=60),
         PlanStep("options-503", until_connections=1))


@pytest.fixture
def mixed(catalogue):
    """Three steps: two PASSes (one with hostile SNI, subject and URI), a phase switch with
    a FAIL, and a CHECK."""
    flip = [Event("phase", 0, "-", "phase 1", {"index": 0, "name": "before"}, at(20)),
            Event("phase", 0, "-", "phase 2", {"index": 1, "name": "flip"}, at(40)),
            *connection(1, 45, "FAIL", "SBC rejected a chain it should accept (unknown_ca)",
                        label="24-hour-test-flip/flip")]
    records = [
        step_record(catalogue, 1, STEPS[0], 0, 20, [
            *connection(1, 2, "PASS", "SBC accepted the chain and got 200 OK to its OPTIONS",
                        sni=EVIL_SNI, subject=EVIL_SUBJECT, request=EVIL_URI),
            *connection(2, 8, "PASS", "SBC accepted the chain and got 200 OK to its OPTIONS")]),
        step_record(catalogue, 2, STEPS[1], 20, 80, flip, "duration"),
        step_record(catalogue, 3, STEPS[2], 80, 90, connection(
            1, 82, "CHECK", "fakepeer answered 503; confirm the SBC marked this proxy down")),
    ]
    run = RunRecord(T0, at(90), records)
    return build_report(Plan("Change <4711> & co", STEPS), run)


def test_counts_result_and_connections(mixed):
    """Outcomes are counted per step and overall; one FAIL makes the result FAIL."""
    assert mixed.result == "FAIL"
    assert mixed.counts == {"PASS": 2, "CHECK": 1, "FAIL": 1, "INCOMPLETE": 0}
    assert [s.counts["PASS"] for s in mixed.steps] == [2, 0, 0]
    assert [len(s.connections) for s in mixed.steps] == [2, 1, 1]
    assert mixed.steps[1].connections[0].phase == "flip"
    assert mixed.problems == ()


def test_phases_get_the_times_they_were_entered(mixed):
    """A step's timeline phases carry when they were entered and left; unreached ones None."""
    phases = mixed.steps[1].phases
    assert [p.name for p in phases] == ["before", "flip", "back"]
    assert [p.entered for p in phases] == [at(20), at(40), None]
    assert [p.left for p in phases] == [at(40), at(80), None]
    assert mixed.steps[0].phases[0].entered == at(0)


def test_check_counts_as_a_pass_but_is_listed(catalogue):
    """PASS and CHECK only: the result is PASS and the table asks to confirm the CHECK."""
    records = [step_record(catalogue, 1, STEPS[2], 0, 5, connection(
        1, 1, "CHECK", "fakepeer answered 503; confirm the SBC marked this proxy down"))]
    report = build_report(Plan("t", (STEPS[2],)), RunRecord(T0, at(5), records))
    assert report.result == "PASS"
    table = render_table(report)
    assert "Confirm on the SBC (counted as passed):" in table
    assert "step 1 #1: fakepeer answered 503" in table


@pytest.mark.parametrize(("records", "interrupted", "error", "result", "problem"), [
    ([], False, None, "NO CONNECTIONS", "no SBC connected during the rehearsal"),
    ([1], True, None, "INCOMPLETE", "step 2 (24-hour-test-flip) judged no connection as PASS"),
    ([1, 2], False, "step 2 (x): cannot listen on 127.0.0.1:5061: in use", "INCOMPLETE",
     "cannot listen"),
    ([1, 3], False, None, "INCOMPLETE", "step 2 (24-hour-test-flip) judged no connection"),
])
def test_a_rehearsal_that_proves_too_little_is_not_a_pass(catalogue, records, interrupted,
                                                          error, result, problem):
    """No connection at all, a step that did not run or judged nothing conclusively: the
    result says so, and the problems say which step and why."""
    made = {
        1: step_record(catalogue, 1, STEPS[0], 0, 20, connection(1, 2, "PASS", "ok")),
        2: step_record(catalogue, 2, STEPS[1], 20, 80, [], "listen-failed"),
        3: step_record(catalogue, 2, STEPS[1], 20, 80, connection(
            1, 30, "INCOMPLETE", "TLS completed but the SBC sent no OPTIONS"), "duration"),
    }
    run = RunRecord(T0, at(90), [made[n] for n in records], interrupted, error)
    report = build_report(Plan("t", STEPS[:2]), run)
    assert report.result == result
    assert any(problem in p for p in report.problems), report.problems
    if len(records) < 2:
        assert report.steps[1].ended_by == "not run" and report.steps[1].started is None


def test_json_is_plain_data_with_every_field(mixed):
    """to_json() survives json.dumps and carries steps, phases, connections and counts."""
    data = json.loads(json.dumps(mixed.to_json()))
    assert set(data) == {"fakepeer", "title", "plan", "started", "ended", "interrupted",
                         "error", "result", "problems", "counts", "connections", "steps"}
    assert data["started"] == "2026-08-25T09:00:00.000+00:00"
    step = data["steps"][0]
    assert step["rule"] == "until 2 judged connections" and step["note"] == "before <the change>"
    assert step["exercised"] is True
    first = step["connections"][0]
    assert first == {
        "step": 1, "connection": 1, "peer": "192.0.2.10:40001", "phase": "",
        "started": "2026-08-25T09:00:02.000+00:00", "ended": "2026-08-25T09:00:03.000+00:00",
        "sni": EVIL_SNI, "client_subject": EVIL_SUBJECT, "tls": f"TLSv1.2; SNI {EVIL_SNI}",
        "requests": [EVIL_URI], "verdict": "TLS Active; OPTIONS Active", "outcome": "PASS",
        "reason": "SBC accepted the chain and got 200 OK to its OPTIONS"}
    assert [p["name"] for p in data["steps"][1]["phases"]] == ["before", "flip", "back"]


def test_the_table_neutralises_terminal_escapes(mixed):
    """A certificate subject cannot clear the screen or reverse text on the terminal."""
    table = render_table(mixed)
    assert "\x1b" not in table and "\u202e" not in table
    assert printable(EVIL_SUBJECT) == ("CN=</td><img src=x onerror=alert(1)>,O=\\x1b[2Jwiped"
                                       "\\u202eevil")
    assert "Result: FAIL (2 PASS, 1 CHECK, 1 FAIL, 0 INCOMPLETE)" in table
    assert "before <the change>" in table


class Page(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def of(self, tag: str, css: str | None = None) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag
                and (css is None or css in (a.get("class") or "").split())]


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "span",
                "div", "table", "tr", "th", "td", "a", "b", "ul", "li", "br"}


def test_html_structure(mixed):
    """One self-contained page: a timeline with a bar per step and a dot per connection,
    a step table, a section per step, no scripts and nothing loaded from elsewhere."""
    page = Page(render_html(mixed))
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    assert len(page.of("h1")) == 1 and len(page.of("title")) == 1
    assert len(page.of("div", "timeline")) == 1
    assert len(page.of("div", "step")) == 3
    assert len(page.of("span", "dot")) == 4
    assert len(page.of("span", "phase")) == 1  # the flip; "back" was never reached
    assert [a["id"] for a in page.of("h2") if a.get("id")] == ["step-1", "step-2", "step-3"]
    assert all((a.get("href") or "").startswith("#") for a in page.of("a"))
    assert not any("src" in attrs for _, attrs in page.tags)
    (csp,) = [a for a in page.of("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp["content"].startswith("default-src 'none'")
    text = "".join(page.text)
    assert "Change <4711> & co" in text and "24-hour-test-flip" in text


def test_hostile_network_strings_stay_text(mixed):
    """SNI, certificate subject and SIP URI from the SBC can't add elements or attributes;
    they appear in the page as the text they are."""
    raw = render_html(mixed)
    page = Page(raw)
    assert not {"script", "img", "svg"} & {tag for tag, _ in page.tags}
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    assert "<script" not in raw.lower() and "<img" not in raw.lower()
    assert "\x1b" not in raw and "\u202e" not in raw
    text = "".join(page.text)
    assert EVIL_SNI in text
    assert printable(EVIL_SUBJECT) in text
    assert EVIL_URI in text
    titles = " ".join(a.get("title") or "" for _, a in page.tags)
    assert "step 1 #1 192.0.2.10:40001" in titles


def test_a_rehearsal_in_which_nothing_ran_still_renders(catalogue):
    """A plan that never started (the first listen failed) gives a page without timeline."""
    run = RunRecord(T0, T0, [], error="step 1 (x): cannot listen on 127.0.0.1:5061: in use")
    report = build_report(Plan("t", STEPS[:1]), run)
    page = Page(render_html(report))
    assert "No step ran, so there is no timeline." in "".join(page.text)
    assert "cannot listen on 127.0.0.1:5061" in render_table(report)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the raw (filtered) scanlines of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, offset = b"", 8
    while offset < len(data):
        (length,), kind = struct.unpack(">I", data[offset:offset + 4]), data[offset + 4:offset + 8]
        if kind == b"IDAT":
            idat += data[offset + 8:offset + 8 + length]
        offset += 12 + length
    return width, height, zlib.decompress(idat)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                             "(scripts/setup.sh --test installs it)")
def test_the_page_renders_in_headless_chromium(mixed, tmp_path):
    """Headless Chromium renders the page offline into a screenshot with real content."""
    page = tmp_path / "report.html"
    page.write_text(render_html(mixed), encoding="utf-8")
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}",
                    "--window-size=1280,1000", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert shot.is_file(), "chromium wrote no screenshot"
    width, height, pixels = _png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 1000)
    assert len(pixels) > 0 and len(set(pixels)) > 50  # text and colours, not a blank page
