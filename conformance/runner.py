"""Running the suite: servers, shards, threads, and the outcome of each scenario.

Theory of operation
-------------------
Scenarios of one server run strictly one after another: a read's reply header
carries the server's *global* last zxid, so two scenarios running at once on one
server would see each other's txns and their zxid distances would depend on
timing.  Parallelism comes from elsewhere:

- the reference and the candidate run in two threads at the same time, each
  working through the same scenario list (the I/O is blocking sockets, so the
  GIL is no obstacle);
- ``jobs > 1`` starts that many reference/candidate *pairs* and deals the
  scenarios round-robin between pairs.
- scenarios that need other server settings (``Scenario.settings``, e.g.
  ``enforceQuota=true``) run on pairs of their own, one group of settings
  after another.  Scenarios are independent of history
  (their own root, per-scenario zxid offsets, every session closed), so which
  pair runs a scenario does not change its transcript.

After both sides ran, each scenario's two transcripts are normalised, compared,
and the differences split into intended ones (conformance.intended) and the rest.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field

from . import intended as intended_mod
from .compare import Diff, compare
from .harness import Scenario, ScenarioResult, run_scenario
from .normalize import NormEvent, Normalizer
from .servers import make_server


@dataclass
class Outcome:
    scenario: Scenario
    ref: ScenarioResult
    cand: ScenarioResult
    ref_events: list[NormEvent]
    cand_events: list[NormEvent]
    diffs: list[Diff]
    unexpected: list[Diff]
    intended: list = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.diffs:
            return "MATCH"
        if not self.unexpected:
            return "INTENDED"
        return "DIFFER"


def _run_side(server, scenarios: list[Scenario], out: dict, progress) -> None:
    end_zxid = None
    for sc in scenarios:
        res = run_scenario(sc, server, end_zxid)
        end_zxid = res.end_zxid
        out[sc.name] = res
        if progress:
            progress(sc, res)


def _run_pairs(
    scenarios: list[Scenario],
    settings: dict[str, str],
    *,
    reference: str,
    candidate: str,
    jobs: int,
    progress,
    log,
    ref_out: dict[str, ScenarioResult],
    cand_out: dict[str, ScenarioResult],
) -> None:
    """Start ``jobs`` reference/candidate pairs configured with ``settings``, run the scenarios, stop."""
    jobs = max(1, min(jobs, len(scenarios) or 1))
    shards = [scenarios[i::jobs] for i in range(jobs)]
    ref_servers = [make_server(reference, settings) for _ in range(jobs)]
    cand_servers = [make_server(candidate, settings) for _ in range(jobs)]
    started = []
    try:
        t0 = time.monotonic()
        errors: list[BaseException] = []

        def start(s):
            try:
                s.start()
                started.append(s)
            except BaseException as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=start, args=(s,)) for s in ref_servers + cand_servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        log(
            "servers up in %.1fs%s: reference %s, candidate %s"
            % (
                time.monotonic() - t0,
                " (with %s)" % ", ".join("%s=%s" % kv for kv in settings.items()) if settings else "",
                ", ".join("%s:%d" % (s.host, s.port) for s in ref_servers),
                ", ".join("%s:%d" % (s.host, s.port) for s in cand_servers),
            )
        )
        threads = []
        for shard, rs, cs in zip(shards, ref_servers, cand_servers, strict=True):
            threads.append(threading.Thread(target=_run_side, args=(rs, shard, ref_out, progress), daemon=True))
            threads.append(threading.Thread(target=_run_side, args=(cs, shard, cand_out, None), daemon=True))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in started:
            try:
                s.stop()
            except Exception as e:  # pragma: no cover
                log("stopping %r failed: %s" % (s, e))


def run_suite(
    scenarios: list[Scenario],
    *,
    reference: str = "real",
    candidate: str = "zkcompat",
    jobs: int = 1,
    children_order: str = "strict",
    intended_entries=None,
    progress=None,
    log=lambda s: print(s, file=sys.stderr),
) -> list[Outcome]:
    ref_out: dict[str, ScenarioResult] = {}
    cand_out: dict[str, ScenarioResult] = {}
    # scenarios that ask for other server settings (Scenario.settings) get their own pairs
    groups: dict[tuple, list[Scenario]] = {}
    for sc in scenarios:
        groups.setdefault(sc.settings, []).append(sc)
    for settings, group in groups.items():
        _run_pairs(group, dict(settings), reference=reference, candidate=candidate, jobs=jobs,
                   progress=progress, log=log, ref_out=ref_out, cand_out=cand_out)
    entries = intended_entries if intended_entries is not None else intended_mod.load()
    outcomes = []
    for sc in scenarios:
        ref, cand = ref_out[sc.name], cand_out[sc.name]
        ref_events = Normalizer(ref.transcript, children_order=children_order).events()
        cand_events = Normalizer(cand.transcript, children_order=children_order).events()
        diffs = compare(ref_events, cand_events)
        unexpected, used = intended_mod.split(sc.name, diffs, entries)
        outcomes.append(Outcome(sc, ref, cand, ref_events, cand_events, diffs, unexpected, used))
    return outcomes
