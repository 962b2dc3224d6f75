"""Comparing two normalised transcripts: MATCH, or a list of readable differences.

Events are aligned by their signature (kind, connection, op, xid) with difflib,
so that one extra or missing event (a notification too many, a reply that never
came) is reported once, as such, instead of shifting every later event into a
difference.  Aligned events are then compared field by field; a field present on
one side only is a difference too.  Each ``Diff`` names the event index on each
side, the field path, the reference ("real") value and the candidate ("ours")
value.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from .normalize import NormEvent

ABSENT = "(absent)"


@dataclass(frozen=True)
class Diff:
    ref_index: int | None
    cand_index: int | None
    field: str
    real: Any
    ours: Any

    @property
    def index_label(self) -> str:
        if self.ref_index is not None and self.cand_index is not None and self.ref_index != self.cand_index:
            return "%d/%d" % (self.ref_index, self.cand_index)
        return str(self.ref_index if self.ref_index is not None else self.cand_index)


def _event_fields(ev: NormEvent) -> dict[str, Any]:
    d = {"conn": ev.conn, "kind": ev.kind}
    d.update(ev.fields)
    return d


def compare_events(i: int, j: int, a: NormEvent, b: NormEvent) -> list[Diff]:
    fa, fb = _event_fields(a), _event_fields(b)
    out = []
    for k in list(fa) + [k for k in fb if k not in fa]:
        va, vb = fa.get(k, ABSENT), fb.get(k, ABSENT)
        if va != vb or type(va) is not type(vb):
            out.append(Diff(i, j, k, va, vb))
    return out


def compare(ref: list[NormEvent], cand: list[NormEvent]) -> list[Diff]:
    """All differences between the reference and candidate transcripts ([] means MATCH)."""
    sm = difflib.SequenceMatcher(None, [e.signature() for e in ref], [e.signature() for e in cand], autojunk=False)
    diffs: list[Diff] = []
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for k in range(i2 - i1):
                diffs.extend(compare_events(i1 + k, j1 + k, ref[i1 + k], cand[j1 + k]))
            continue
        n = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(n):
            diffs.extend(compare_events(i1 + k, j1 + k, ref[i1 + k], cand[j1 + k]))
        for i in range(i1 + n, i2):
            diffs.append(Diff(i, None, "event", ref[i].render(), ABSENT))
        for j in range(j1 + n, j2):
            diffs.append(Diff(None, j, "event", ABSENT, cand[j].render()))
    return diffs
