"""Turn the client suite's results into the README's compatibility table (Markdown).

Each client test writes one JSON row per run to ``<results>/<target>/<client>.json``
(tests/clients/results by default, or $ZKCOMPAT_CLIENT_RESULTS), where target is
``zkcompat`` or ``real`` (the control run against Apache ZooKeeper 3.8).  Run both::

    python3 -m pytest -q tests/clients
    ZKCOMPAT_TARGET=real python3 -m pytest -q tests/clients
    python3 tests/clients/compat_table.py            # prints the table
    python3 tests/clients/compat_table.py --check    # same, exit 1 unless every check passed on both

Nothing in the table is written by hand: client names, versions, what is covered and the
pass counts all come from the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEFAULT_RESULTS = Path(os.environ.get("ZKCOMPAT_CLIENT_RESULTS", Path(__file__).resolve().parent / "results"))
TARGETS = [("zkcompat", "zkcompat"), ("real", "Apache ZooKeeper 3.8 (control)")]
ORDER = ["ZkClientChecks", "CuratorChecks", "c-client", "cli_mt", "go-zookeeper", "node-zookeeper-client"]


def load(results: Path) -> dict[str, dict[str, dict]]:
    """{client: {target: row}} for every row file under `results`."""
    rows: dict[str, dict[str, dict]] = {}
    for target, _ in TARGETS:
        for path in sorted((results / target).glob("*.json")):
            row = json.loads(path.read_text())
            rows.setdefault(row["client"], {})[target] = row
    return rows


def _cell(row: dict | None) -> str:
    if row is None:
        return "not run"
    verdict = "%d/%d checks pass" % (row["passed"], row["total"])
    if row["failed"]:
        verdict += " (failing: %s)" % ", ".join("`%s`" % c for c in row["failed"])
    elif row.get("exit_status") not in (0, None):
        verdict += " (exit status %s)" % row["exit_status"]
    return ("✅ " if not row["failed"] and row.get("exit_status") in (0, None) else "❌ ") + verdict


def table(rows: dict[str, dict[str, dict]]) -> str:
    header = ["client", "version", "what is tested"] + [title for _, title in TARGETS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    clients = sorted(rows, key=lambda c: (ORDER.index(c) if c in ORDER else len(ORDER), c))
    for client in clients:
        by_target = rows[client]
        any_row = next(iter(by_target.values()))
        cells = [any_row["name"], any_row["version"], any_row["covers"]]
        cells += [_cell(by_target.get(target)) for target, _ in TARGETS]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def all_passed(rows: dict[str, dict[str, dict]]) -> bool:
    return bool(rows) and all(
        (row := by_target.get(target)) is not None and not row["failed"] and row.get("exit_status") in (0, None)
        for by_target in rows.values()
        for target, _ in TARGETS
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=DEFAULT_RESULTS, help="results directory")
    parser.add_argument("--check", action="store_true", help="exit 1 unless every client passed on both targets")
    args = parser.parse_args(argv)
    rows = load(args.results)
    if not rows:
        print("no results under %s: run the client tests first" % args.results, file=sys.stderr)
        return 1
    print(table(rows))
    return 0 if not args.check or all_passed(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
