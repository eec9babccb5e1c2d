# -*- test-case-name: tests.rehearse.test_report -*-
"""A rehearsal's report written two ways: a terminal table and a self-contained HTML
page to attach to a change ticket (:mod:`fakepeer.rehearse.report` is the data, and
its JSON).

Pure: a report in, strings out (the command writes the files). Every string that came
from the network (SNI, certificate subjects, SIP URIs, and the summaries that quote
them) is treated as hostile: HTML-escaped in the page, and with control characters made
visible on the terminal, so a crafted client certificate can neither inject markup nor
drive the terminal.
"""

from __future__ import annotations

import html
import re
from datetime import datetime

from fakepeer.rehearse.report import OUTCOMES, RehearsalReport, StepReport, iso_time

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with control characters (terminal escapes, bidi overrides, NUL) shown as
    ``\\xNN``/``\\uNNNN`` instead of acting; tabs and newlines become spaces."""
    text = text.replace("\t", " ").replace("\n", " ")
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100
                        else f"\\u{ord(m[0]):04x}", text)


# --- terminal --------------------------------------------------------------------------


def _clock(when: datetime | None) -> str:
    return when.strftime("%H:%M:%S") if when is not None else "--:--:--"


def _seconds(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "-"
    return f"{(end - start).total_seconds():.1f} s"


def _many(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _count_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {outcome}" for outcome, n in counts.items())


def render_table(report: RehearsalReport) -> str:
    """The report for the terminal: one block per step, one row per connection, then the
    result and whatever needs a person's attention."""
    p = printable
    lines = [f"Rehearsal: {p(report.title)}" + (f"  ({p(report.plan)})" if report.plan else ""),
             f"  {_clock(report.started)} to {_clock(report.ended)} "
             f"({_seconds(report.started, report.ended)}), {_many(len(report.steps), 'step')}, "
             f"{_many(len(report.connections), 'connection')} judged", ""]
    rows = [("STEP", "CONN", "TIME", "PEER", "PHASE", "OUTCOME", "REASON")]
    for step in report.steps:
        rows.append((f"{step.number}", "", _clock(step.started), "", "", "",
                     f"{p(step.scenario)}: {step.rule}, ended by {step.ended_by}; expect "
                     f"{step.expect or '-'}" + (f"  [{p(step.note)}]" if step.note else "")))
        for c in step.connections:
            rows.append(("", f"#{c.connection}", _clock(c.started or c.ended), p(c.peer),
                         p(c.phase) or "-", c.outcome, p(c.reason)))
        if not step.connections:
            rows.append(("", "", "", "", "", "", "(no connection)"))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:6]))
                     + "  " + row[6])
    lines += ["", f"Result: {report.result} ({_count_line(report.counts)})"]
    checks = [c for c in report.connections if c.outcome == "CHECK"]
    if checks:
        lines.append("Confirm on the SBC (counted as passed):")
        lines += [f"  step {c.step} #{c.connection}: {p(c.reason)}" for c in checks]
    lines += [f"  ! {p(problem)}" for problem in report.problems]
    return "\n".join(lines) + "\n"


# --- HTML ------------------------------------------------------------------------------


def _e(value: object) -> str:
    """Every string that reaches the page goes through here: escaped, quotes included,
    control characters made visible."""
    return html.escape(printable(str(value)), quote=True)


_COLOURS = {"PASS": "#1a7f37", "CHECK": "#9a6700", "FAIL": "#cf222e",
            "INCOMPLETE": "#6e7781", "NO CONNECTIONS": "#6e7781"}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;margin:24px;
max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#57606a;margin:0 0 12px}
.badge{display:inline-block;padding:2px 9px;border-radius:10px;color:#fff;font-weight:600;
font-size:12px;letter-spacing:.03em}
.result{font-size:16px;padding:4px 14px}
.problems{border-left:4px solid #cf222e;background:#fff5f5;padding:6px 12px;margin:12px 0}
.problems li{margin:2px 0}
.timeline{position:relative;height:92px;border:1px solid #d0d7de;border-radius:6px;
background:#f6f8fa;margin:8px 0 4px}
.step{position:absolute;top:8px;height:44px;box-sizing:border-box;border:1px solid #8c959f;
background:#ddf4ff;border-radius:4px;overflow:hidden;font-size:11px;padding:2px 4px;
white-space:nowrap}
.step.fail{background:#ffebe9}.step.pass{background:#dafbe1}.step.idle{background:#eaeef2}
.phase{position:absolute;bottom:0;height:12px;border-left:2px solid #57606a;opacity:.6}
.dot{position:absolute;top:62px;width:12px;height:12px;margin-left:-6px;border-radius:50%;
border:1px solid #fff}
.axis{display:flex;justify-content:space-between;color:#57606a;font-size:12px}
table{border-collapse:collapse;width:100%;margin:6px 0 14px}
th,td{border-bottom:1px solid #d0d7de;text-align:left;padding:4px 8px;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.mono,span.mono{font-family:ui-monospace,Menlo,
Consolas,monospace;font-size:12px;word-break:break-all}
.note{color:#57606a;font-style:italic}
.legend span{margin-right:14px}
@media print{body{margin:0}.timeline{break-inside:avoid}}
"""


def _badge(outcome: str, extra: str = "") -> str:
    colour = _COLOURS.get(outcome, "#6e7781")
    return (f'<span class="badge {extra}" style="background:{colour}">{_e(outcome)}</span>')


def _position(when: datetime | None, start: datetime, span: float) -> float:
    if when is None:
        return 0.0
    return min(max((when - start).total_seconds() / span * 100, 0.0), 100.0)


def _timeline(report: RehearsalReport) -> list[str]:
    ran = [s for s in report.steps if s.started is not None]
    if report.started is None or not ran:
        return ['<p class="meta">No step ran, so there is no timeline.</p>']
    start = report.started
    end = report.ended or max((s.ended or s.started or start) for s in ran)
    span = max((end - start).total_seconds(), 0.001)
    out = ['<div class="timeline" role="img" aria-label="timeline of steps, phases and '
           'connections">']
    for step in ran:
        left = _position(step.started, start, span)
        width = max(_position(step.ended or end, start, span) - left, 0.6)
        kind = ("fail" if step.counts.get("FAIL") else
                "pass" if step.exercised else "idle")
        tip = (f"step {step.number}: {step.scenario}, {_clock(step.started)}-"
               f"{_clock(step.ended)}, {step.rule}, ended by {step.ended_by}")
        out.append(f'<div class="step {kind}" style="left:{left:.3f}%;width:{width:.3f}%" '
                   f'title="{_e(tip)}"><b>{step.number}</b> {_e(step.scenario)}')
        step_span = max(((step.ended or end) - step.started).total_seconds(), 0.001) \
            if step.started else 0.001
        for phase in step.phases[1:] if len(step.phases) > 1 else ():
            if phase.entered is None or step.started is None:
                continue
            at = min(max((phase.entered - step.started).total_seconds() / step_span * 100,
                         0.0), 100.0)
            out.append(f'<span class="phase" style="left:{at:.3f}%" '
                       f'title="{_e(f"phase {phase.name} from {_clock(phase.entered)}")}">'
                       "</span>")
        out.append("</div>")
    for c in report.connections:
        at = _position(c.started or c.ended, start, span)
        tip = (f"step {c.step} #{c.connection} {c.peer} {_clock(c.started)}: {c.outcome}: "
               f"{c.reason}")
        out.append(f'<span class="dot" style="left:{at:.3f}%;background:'
                   f'{_COLOURS.get(c.outcome, "#6e7781")}" title="{_e(tip)}"></span>')
    out.append("</div>")
    out.append(f'<div class="axis"><span>{_e(_clock(start))}</span>'
               f'<span>{_e(_seconds(start, end))}</span><span>{_e(_clock(end))}</span></div>')
    out.append('<p class="legend meta">' + "".join(
        f'<span>{_badge(o)} connection judged {o}</span>' for o in OUTCOMES) + "</p>")
    return out


def _step_section(step: StepReport) -> list[str]:
    head = (f'<h2 id="step-{step.number}">Step {step.number}: '
            f'<span class="mono">{_e(step.scenario)}</span></h2>')
    facts = [("Rule", step.rule), ("Ran", f"{iso_time(step.started) or 'not run'} to "
                                         f"{iso_time(step.ended) or '-'} "
                                         f"({_seconds(step.started, step.ended)})"),
             ("Ended by", step.ended_by), ("Listening on", ", ".join(step.listening) or "-"),
             ("Expected", step.expect or "-"), ("Purpose", step.purpose or "-"),
             ("Counts", _count_line(step.counts))]
    out = [head]
    if step.note:
        out.append(f'<p class="note">{_e(step.note)}</p>')
    out.append("<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
                                   for k, v in facts) + "</table>")
    if len(step.phases) > 1:
        out.append("<table><tr><th>Phase</th><th>Serves</th><th>Expected</th>"
                   "<th>Entered</th><th>Ends</th></tr>")
        out += [f"<tr><td>{_e(ph.name)}</td><td>{_e(ph.description)}</td>"
                f"<td>{_e(ph.expect)}</td>"
                f"<td>{_e(_clock(ph.entered) if ph.entered else 'not reached')}</td>"
                f"<td>{_e(ph.ends)}</td></tr>" for ph in step.phases]
        out.append("</table>")
    if not step.connections:
        out.append('<p class="meta">No connection in this step.</p>')
        return out
    out.append("<table><tr><th>#</th><th>Time</th><th>Peer</th><th>Phase</th>"
               "<th>SNI</th><th>SBC certificate</th><th>Requests</th><th>Dashboard</th>"
               "<th>Outcome</th><th>Reason</th></tr>")
    for c in step.connections:
        requests = "<br>".join(_e(r) for r in c.requests) or "-"
        out.append(
            f'<tr id="s{step.number}c{c.connection}"><td>{c.connection}</td>'
            f"<td>{_e(_clock(c.started or c.ended))}</td><td class=\"mono\">{_e(c.peer)}</td>"
            f"<td>{_e(c.phase or '-')}</td><td class=\"mono\">{_e(c.sni or '-')}</td>"
            f'<td class="mono">{_e(c.client_subject or "-")}</td>'
            f'<td class="mono">{requests}</td><td>{_e(c.verdict)}</td>'
            f"<td>{_badge(c.outcome)}</td><td>{_e(c.reason)}</td></tr>")
    out.append("</table>")
    return out


def render_html(report: RehearsalReport) -> str:
    """A self-contained page: inline CSS, no scripts, nothing fetched (a CSP says so too),
    so it can be attached to a ticket and opened anywhere."""
    title = f"fakepeer rehearsal: {report.title}"
    summary = [("Plan", report.plan or "-"),
               ("Ran", f"{iso_time(report.started) or '-'} to {iso_time(report.ended) or '-'} "
                       f"({_seconds(report.started, report.ended)})"),
               ("Connections", f"{len(report.connections)}: {_count_line(report.counts)}"),
               ("fakepeer", report.version)]
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{_e(report.title)}</h1>",
        f'<p class="meta">fakepeer rehearsal report. Result: '
        f'{_badge(report.result, "result")}</p>',
    ]
    if report.problems:
        parts.append('<div class="problems"><ul>' + "".join(
            f"<li>{_e(problem)}</li>" for problem in report.problems) + "</ul></div>")
    parts.append("<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
                                      for k, v in summary) + "</table>")
    parts.append("<h2>Timeline</h2>")
    parts += _timeline(report)
    parts.append("<h2>Steps</h2><table><tr><th>Step</th><th>Scenario</th><th>Rule</th>"
                 "<th>Expected</th><th>Ended by</th><th>Result</th></tr>")
    for step in report.steps:
        verdict = ("FAIL" if step.counts.get("FAIL") else
                   "PASS" if step.exercised else "INCOMPLETE")
        parts.append(f'<tr><td><a href="#step-{step.number}">{step.number}</a></td>'
                     f'<td class="mono">{_e(step.scenario)}</td><td>{_e(step.rule)}</td>'
                     f"<td>{_e(step.expect or '-')}</td><td>{_e(step.ended_by)}</td>"
                     f"<td>{_badge(verdict)} {_e(_count_line(step.counts))}</td></tr>")
    parts.append("</table>")
    for step in report.steps:
        parts += _step_section(step)
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"
