"""Reports: the text table and summary line, readable diffs, and an HTML page.

The summary line is exactly ``conformance: N match, M differ of T``; scenarios
whose only differences are listed in intended_differences.toml count as matches
(their status is INTENDED and a line before the summary says how many there are).
"""

from __future__ import annotations

import html
from collections import Counter

from .compare import ABSENT
from .normalize import render_value

VALUE_WIDTH = 60


def summary_line(outcomes) -> str:
    differ = sum(1 for o in outcomes if o.status == "DIFFER")
    return "conformance: %d match, %d differ of %d" % (len(outcomes) - differ, differ, len(outcomes))


def diff_lines(outcome, limit: int | None = 40) -> list[str]:
    lines = []
    diffs = outcome.diffs
    covered = set(map(id, outcome.diffs)) - set(map(id, outcome.unexpected))
    for d in diffs[:limit] if limit else diffs:
        mark = "  (intended)" if id(d) in covered else ""
        lines.append(
            "    event %-5s %-32s real: %-*s ours: %s%s"
            % (
                d.index_label,
                d.field,
                VALUE_WIDTH,
                render_value(d.real, VALUE_WIDTH),
                render_value(d.ours, VALUE_WIDTH),
                mark,
            )
        )
    if limit and len(diffs) > limit:
        lines.append("    ... %d more differences" % (len(diffs) - limit))
    for e in outcome.intended:
        lines.append("    intended: %s" % e.reason)
    return lines


def transcript_lines(events, prefix="    ") -> list[str]:
    return ["%s%3d  %s" % (prefix, i, e.render()) for i, e in enumerate(events)]


def text_report(outcomes, *, verbose: bool = False) -> str:
    width = max([len(o.scenario.name) for o in outcomes] + [8])
    out = ["%-*s  %-8s  %s" % (width, "scenario", "result", "time (real/ours)")]
    for o in outcomes:
        out.append("%-*s  %-8s  %.2fs/%.2fs" % (width, o.scenario.name, o.status, o.ref.elapsed_s, o.cand.elapsed_s))
        if o.status != "MATCH":
            out.extend(diff_lines(o, None if verbose else 40))
        if verbose and o.status == "DIFFER":
            out.append("  real transcript:")
            out.extend(transcript_lines(o.ref_events))
            out.append("  our transcript:")
            out.extend(transcript_lines(o.cand_events))
        for side, res in (("real", o.ref), ("ours", o.cand)):
            for n in res.notes:
                out.append("    note (%s): %s" % (side, n))
            if verbose and res.transcript.note_traceback:
                out.append("    traceback (%s):\n%s" % (side, res.transcript.note_traceback))
    counts = Counter(o.status for o in outcomes)
    if counts["INTENDED"]:
        out.append("%d scenarios differ only as intended_differences.toml allows" % counts["INTENDED"])
    out.append(summary_line(outcomes))
    return "\n".join(out)


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top;font-size:13px}
.MATCH{background:#e6f4e6}.DIFFER{background:#fbe3e3}.INTENDED{background:#fff5d6}
code,pre{font-family:ui-monospace,monospace;font-size:12px}pre{white-space:pre-wrap;margin:0}
details{margin:4px 0}summary{cursor:pointer}.doc{color:#555}
"""


def html_report(outcomes, *, title: str = "zkcompat conformance") -> str:
    e = html.escape
    counts = Counter(o.status for o in outcomes)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>%s</title><style>%s</style></head><body>"
        % (e(title), _CSS),
        "<h1>%s</h1><p><b>%s</b> &mdash; MATCH %d, INTENDED %d, DIFFER %d</p>"
        % (e(title), e(summary_line(outcomes)), counts["MATCH"], counts["INTENDED"], counts["DIFFER"]),
        "<table><tr><th>scenario</th><th>result</th><th>what it checks</th><th>details</th></tr>",
    ]
    for o in sorted(outcomes, key=lambda o: ({"DIFFER": 0, "INTENDED": 1, "MATCH": 2}[o.status], o.scenario.name)):
        detail = []
        if o.diffs:
            covered = set(map(id, o.diffs)) - set(map(id, o.unexpected))
            rows = "".join(
                "<tr%s><td>%s</td><td><code>%s</code></td><td><code>%s</code></td><td><code>%s</code></td></tr>"
                % (
                    " class='INTENDED'" if id(d) in covered else "",
                    e(d.index_label),
                    e(d.field),
                    e(render_value(d.real, 200)),
                    e(render_value(d.ours, 200)),
                )
                for d in o.diffs
            )
            detail.append("<table><tr><th>event</th><th>field</th><th>real</th><th>ours</th></tr>%s</table>" % rows)
            for it in o.intended:
                detail.append("<div class='doc'>intended: %s</div>" % e(it.reason))
        detail.append(
            "<details><summary>transcripts (%d real / %d ours events)</summary>"
            "<table><tr><th>real</th><th>ours</th></tr>"
            "<tr><td><pre>%s</pre></td><td><pre>%s</pre></td></tr></table></details>"
            % (
                len(o.ref_events),
                len(o.cand_events),
                e("\n".join(transcript_lines(o.ref_events, ""))),
                e("\n".join(transcript_lines(o.cand_events, ""))),
            )
        )
        parts.append(
            "<tr class='%s'><td><code>%s</code></td><td>%s</td><td class='doc'>%s</td><td>%s</td></tr>"
            % (o.status, e(o.scenario.name), o.status, e(o.scenario.doc), "".join(detail))
        )
    parts.append("</table></body></html>")
    return "\n".join(parts)


__all__ = ["summary_line", "text_report", "html_report", "diff_lines", "ABSENT"]
