"""Known, intended differences between the reference (Apache ZooKeeper 3.8.0) and zkcompat.

The list lives in ``intended_differences.toml`` beside this module, one reviewed
entry per difference, each with its reason (the ZOOKEEPER issue when zkcompat
follows a later 3.8.x fix).  An entry names scenarios by glob and, optionally,
narrows what may differ:

    [[difference]]
    scenario = "check.standalone.*"     # glob over scenario names (required)
    fields = ["*"]                      # globs over diff field paths (default: any)
    ours = "*UNIMPLEMENTED*"            # glob over the candidate's rendered value (default: any)
    reason = "ZOOKEEPER-2623: ..."      # required

A scenario whose every difference is covered by some entry is INTENDED (it passes);
any difference not covered makes it DIFFER, and the run fails.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .compare import Diff
from .normalize import render_value

DEFAULT_PATH = Path(__file__).with_name("intended_differences.toml")


@dataclass
class IntendedDifference:
    scenario: str
    reason: str
    fields: list[str] = field(default_factory=lambda: ["*"])
    ours: str | None = None

    def covers(self, scenario_name: str, diff: Diff) -> bool:
        if not fnmatch.fnmatchcase(scenario_name, self.scenario):
            return False
        if not any(fnmatch.fnmatchcase(diff.field, f) for f in self.fields):
            return False
        if self.ours is not None and not fnmatch.fnmatchcase(render_value(diff.ours), self.ours):
            return False
        return True


def load(path: Path = DEFAULT_PATH) -> list[IntendedDifference]:
    data = tomllib.loads(Path(path).read_text())
    out = []
    for i, entry in enumerate(data.get("difference", [])):
        unknown = set(entry) - {"scenario", "reason", "fields", "ours"}
        if unknown or "scenario" not in entry or not entry.get("reason"):
            raise ValueError("%s: entry %d needs scenario and reason (unknown keys: %s)" % (path, i, sorted(unknown)))
        out.append(
            IntendedDifference(entry["scenario"], entry["reason"], list(entry.get("fields", ["*"])), entry.get("ours"))
        )
    return out


def split(scenario_name: str, diffs: list[Diff], entries: list[IntendedDifference]):
    """(diffs not covered by any entry, entries that covered at least one diff)."""
    remaining, used = [], []
    for d in diffs:
        hit = next((e for e in entries if e.covers(scenario_name, d)), None)
        if hit is None:
            remaining.append(d)
        elif hit not in used:
            used.append(hit)
    return remaining, used
