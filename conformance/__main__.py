"""``python -m conformance``: run the differential conformance suite.

    python -m conformance                      # real ZooKeeper vs zkcompat
    python -m conformance --candidate real     # real vs real: validates the harness
    python -m conformance -k watch -k acl.     # scenarios whose name contains a pattern
    python -m conformance --list               # names and intents, nothing run
    python -m conformance --html report.html --verbose

Exit status: 0 when every scenario matches (or differs only as
intended_differences.toml allows), 1 when any differs, 2 on a usage or start-up error.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import time
from pathlib import Path

from . import intended
from .report import html_report, text_report, transcript_lines
from .runner import run_suite
from .scenarios import all_scenarios


def select(scenarios, patterns):
    if not patterns:
        return scenarios
    out = []
    for sc in scenarios:
        for p in patterns:
            if any(ch in p for ch in "*?[") and fnmatch.fnmatchcase(sc.name, p) or p in sc.name:
                out.append(sc)
                break
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m conformance", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--candidate",
        choices=("real", "zkcompat"),
        default="zkcompat",
        help="the server compared with real ZooKeeper (default zkcompat; 'real' checks the harness)",
    )
    ap.add_argument(
        "-k",
        dest="patterns",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run scenarios whose name contains PATTERN (or matches it as a glob); repeatable",
    )
    ap.add_argument("--list", action="store_true", help="list the selected scenarios and exit")
    ap.add_argument(
        "--verbose", "-v", action="store_true", help="print all differences and both transcripts of differing scenarios"
    )
    ap.add_argument("--html", metavar="FILE", help="also write the report as an HTML page")
    ap.add_argument("--jobs", "-j", type=int, default=1, help="server pairs to run in parallel (default 1)")
    ap.add_argument(
        "--children-order",
        choices=("strict", "sorted"),
        default="strict",
        help="compare children lists in order (default) or as sorted lists",
    )
    ap.add_argument(
        "--dump", metavar="DIR", help="write each scenario's normalised reference transcript to DIR/<name>.txt"
    )
    ap.add_argument(
        "--intended", metavar="FILE", default=str(intended.DEFAULT_PATH), help="the intended differences file"
    )
    args = ap.parse_args(argv)

    scenarios = select(all_scenarios(), args.patterns)
    if args.list:
        for sc in scenarios:
            print("%-48s %s" % (sc.name, sc.doc))
        print("%d scenarios" % len(scenarios))
        return 0
    if not scenarios:
        print("no scenario matches %s" % args.patterns, file=sys.stderr)
        return 2
    try:
        entries = intended.load(Path(args.intended))
    except (OSError, ValueError) as e:
        print("cannot read intended differences: %s" % e, file=sys.stderr)
        return 2

    t0 = time.monotonic()
    done = [0]

    def progress(sc, res):
        done[0] += 1
        if args.verbose:
            print("[%d/%d] %s %.2fs" % (done[0], len(scenarios), sc.name, res.elapsed_s), file=sys.stderr)

    try:
        outcomes = run_suite(
            scenarios,
            candidate=args.candidate,
            jobs=args.jobs,
            children_order=args.children_order,
            intended_entries=entries,
            progress=progress,
        )
    except Exception as e:
        print("conformance: could not run: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 2
    print(text_report(outcomes, verbose=args.verbose))
    print("wall time %.1fs" % (time.monotonic() - t0), file=sys.stderr)
    if args.html:
        Path(args.html).write_text(
            html_report(outcomes, title="zkcompat conformance: real ZooKeeper vs %s" % args.candidate)
        )
    if args.dump:
        d = Path(args.dump)
        d.mkdir(parents=True, exist_ok=True)
        for o in outcomes:
            (d / ("%s.txt" % o.scenario.name)).write_text(
                "# %s\n# %s\n%s\n" % (o.scenario.name, o.scenario.doc, "\n".join(transcript_lines(o.ref_events, "")))
            )
    return 1 if any(o.status == "DIFFER" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
