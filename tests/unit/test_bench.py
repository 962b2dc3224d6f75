"""The pure parts of ``zkcompat bench`` and ``zkcompat bench compare``: statistics, text, ratios, JSON."""

from __future__ import annotations

import io
import json
import os
import sys
import time

import pytest

from zkcompat import bench, bench_compare
from zkcompat.bench_compare import HIGHER, LOWER


def test_percentile_is_nearest_rank_on_sorted_values():
    values = list(range(1, 101))  # 1..100
    assert bench.percentile(values, 50) == 51  # index round(0.5 * 99) = 50 (banker's rounding of 49.5 -> 50)
    assert bench.percentile(values, 0) == 1
    assert bench.percentile(values, 100) == 100
    assert bench.percentile(values, 99) == 99
    assert bench.percentile([7.0], 99) == 7.0
    assert bench.percentile([], 50) == 0.0


def test_latency_summary_is_in_milliseconds_and_ignores_order():
    lat = [0.004, 0.001, 0.002, 0.003, 0.010]
    assert bench.latency_summary(lat) == {"p50_ms": 3.0, "p90_ms": 10.0, "p99_ms": 10.0, "max_ms": 10.0}
    assert bench.latency_summary([]) == {"p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}


def test_split_evenly_gives_the_remainder_to_the_first_parts():
    assert bench.split_evenly(10, 3) == [4, 3, 3]
    assert bench.split_evenly(2, 4) == [1, 1, 0, 0]
    assert sum(bench.split_evenly(1001, 32)) == 1001


def _result(**kw):
    res = {"workload": "get", "hosts": "127.0.0.1:2181", "clients": 32, "depth": 16, "value_size": 1024,
           "ops": 5000, "errors": 2, "seconds": 1.0, "ops_per_sec": 5000.0, "p50_ms": 1.5, "p90_ms": 2.25,
           "p99_ms": 3.125, "max_ms": 9.0}
    res.update(kw)
    return res


def test_format_result_names_the_workload_rate_and_percentiles():
    line = bench.format_result(_result())
    assert line.split()[:3] == ["get", "5000", "ops/s"]
    for text in ("p50 1.500 ms", "p90 2.250 ms", "p99 3.125 ms", "max 9.000 ms", "(5000 ops, 2 errors)"):
        assert text in line


def test_format_result_of_the_special_workloads():
    storm = bench.format_result(_result(workload="watch-storm", rounds=4, clients=100, from_send_p50_ms=2.0,
                                        from_send_p99_ms=3.0))
    assert "notif/s" in storm and "4 rounds x 100 watchers" in storm and "p50 2.000 ms p99 3.000 ms" in storm
    assert "sess/s" in bench.format_result(_result(workload="connect-storm"))
    assert "open loop at 800 ops/s" in bench.format_result(_result(rate=800.0))


def test_bench_json_lines_are_the_result_dicts(capsys, monkeypatch):
    """--json prints one JSON object per workload, exactly what run_workload returned."""
    seen = []

    def fake_run(hosts, workload, **kw):
        seen.append((hosts, workload, kw["ops"], kw["progress"]))
        return _result(workload=workload)

    monkeypatch.setattr(bench, "run_workload", fake_run)
    assert bench.main(["--hosts", "h:1", "--workload", "get", "--workload", "delete", "--ops", "7", "--json",
                       "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(x) for x in lines] == [_result(workload="get"), _result(workload="delete")]
    assert seen == [("h:1", "get", 7, False), ("h:1", "delete", 7, False)]


def test_rate_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--hosts", "h:1", "--rate", "0"])
    assert "must be > 0" in capsys.readouterr().err


def test_run_workload_refuses_unknown_workloads_and_rate_on_storms():
    with pytest.raises(ValueError, match="unknown workload"):
        bench.run_workload("127.0.0.1:1", "nope")
    with pytest.raises(ValueError, match="--rate"):
        bench.run_workload("127.0.0.1:1", "watch-storm", rate=10)


def test_progress_printer_reports_ops_and_rate():
    counts = [0, 0]
    out = io.StringIO()
    printer = bench._ProgressPrinter("get", counts, stream=out, interval_s=0.01)
    printer.start()
    counts[0], counts[1] = 30, 12
    deadline = time.monotonic() + 10
    while "42 ops" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.005)
    printer.finish()
    line = [x for x in out.getvalue().splitlines() if "42 ops" in x][0]
    assert line.startswith("get: 42 ops, ") and line.endswith(" ops/s")


# --- compare: medians, ratios, the table, JSON -----------------------------------------------------------

def test_median_and_ratio():
    assert bench_compare.median([3, 1, 2]) == 2
    assert bench_compare.median([1, 2, 3, 4]) == 2.5
    assert bench_compare.median([None, 4]) == 4
    assert bench_compare.median([]) is None
    assert bench_compare.ratio(30.0, 10.0) == 3.0
    assert bench_compare.ratio(None, 10.0) is None
    assert bench_compare.ratio(1.0, 0.0) is None


def test_make_row_takes_medians_of_each_side():
    row = bench_compare.make_row("get:ops_per_sec", "getData", "ops/s", HIGHER, [100, 300, 200], [50, 150])
    assert (row["zkcompat"], row["zookeeper"], row["ratio"]) == (200, 100.0, 2.0)
    assert row["zkcompat_runs"] == [100, 300, 200] and row["zookeeper_runs"] == [50, 150]
    empty = bench_compare.make_row("x", "x", "ms", LOWER, [], [1.0])
    assert empty["zkcompat"] is None and empty["ratio"] is None


def test_table_shows_medians_ratio_and_which_way_is_better():
    rows = [
        bench_compare.make_row("get", "getData 32x16", "ops/s", HIGHER, [95000], [36000]),
        bench_compare.make_row("lat", "getData 1x1 p50", "ms", LOWER, [0.08], [0.18]),
        bench_compare.make_row("rss", "resident memory", "MiB", LOWER, [124.4], []),
        bench_compare.make_row("cpu", "idle CPU", "% core", LOWER, [1.25], [5.0]),
        bench_compare.make_row("up", "startup", "s", LOWER, [0.5], [1.0]),
    ]
    text = bench_compare.format_table(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["row", "zkcompat", "ZooKeeper", "ratio", "better"]
    get = [x for x in lines if x.startswith("getData 32x16")][0]
    assert "95.00k ops/s" in get and "36.00k ops/s" in get and "2.64" in get and "higher is better" in get
    lat = [x for x in lines if x.startswith("getData 1x1 p50")][0]
    assert "0.080 ms" in lat and "0.180 ms" in lat and "0.44" in lat and "lower is better" in lat
    rss = [x for x in lines if x.startswith("resident memory")][0]
    assert "124 MiB" in rss and rss.split()[4] == "-"
    assert "1.2% core" in text or "1.3% core" in text
    assert "0.50 s" in text
    assert "ratio = median zkcompat / median ZooKeeper" in lines[-1]
    # the value columns line up
    assert len({len(x.rsplit("  ", 1)[0]) for x in lines[2:-1]}) == 1


def test_compare_result_is_json_serialisable():
    rows = [bench_compare.make_row("get", "getData", "ops/s", HIGHER, [1.5], [1.0])]
    result = {"settings": {"rounds": 2}, "rows": rows, "runs": [_result(server="zkcompat", round=1)]}
    assert json.loads(json.dumps(result)) == result


def test_default_workloads_are_the_performance_targets():
    defaults = [s.key for s in bench_compare.SPECS if s.default]
    assert defaults == ["get", "exists", "get-1x1", "set", "create", "set-1x1", "set-32x1", "create-1x1",
                        "create-32x1", "set-nosync", "create-nosync", "idle-cpu", "get-p99-at-rate"]
    assert (specs_depth := {s.key: (s.clients, s.depth) for s in bench_compare.SPECS})["create-32x1"] == (32, 1)
    assert specs_depth["create-1x1"] == (1, 1) and specs_depth["set-32x1"] == (32, 1)
    specs = {s.key: s for s in bench_compare.SPECS}
    assert (specs["get"].clients, specs["get"].depth, specs["get"].value_size) == (32, 16, 1024)
    assert (specs["get-1x1"].clients, specs["get-1x1"].depth) == (1, 1)
    assert specs["set-nosync"].phase == "nosync" and specs["set"].phase == "durable"
    assert specs["get"].procs == bench_compare.READ_PROCS_DEFAULT


def test_compare_rejects_unknown_workloads(capsys):
    with pytest.raises(SystemExit):
        bench_compare.main(["--workloads", "get,bogus"])
    assert "unknown workloads: bogus" in capsys.readouterr().err


def test_plot_without_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(SystemExit, match=r"zkcompat\[bench\]"):
        bench_compare.main(["--plot", "x.png", "--workloads", "get"])


def test_plot_writes_a_png(tmp_path):
    rows = [bench_compare.make_row("get", "getData", "ops/s", HIGHER, [2.0], [1.0]),
            bench_compare.make_row("lat", "latency", "ms", LOWER, [2.0], [1.0]),
            bench_compare.make_row("zero", "no bar", "ms", LOWER, [0.0], [1.0])]
    path = tmp_path / "bench.png"
    bench_compare.plot(rows, str(path), "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- /proc readings ---------------------------------------------------------------------------------------

def test_proc_readings_of_this_process():
    pid = os.getpid()
    assert bench_compare.proc_name(pid).startswith("python")
    assert bench_compare.server_pid(pid, "python") == pid
    assert 1 < bench_compare.rss_mib(pid) < 100_000
    before = bench_compare.cpu_seconds(pid)
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    assert bench_compare.cpu_seconds(pid) > before


def test_server_pid_finds_the_child_under_a_wrapper():
    import subprocess

    shell = subprocess.Popen(["sh", "-c", "sleep 30; true"])
    try:
        deadline = time.monotonic() + 10
        child = None
        while child is None and time.monotonic() < deadline:
            try:
                child = bench_compare.server_pid(shell.pid, "sleep")
            except (RuntimeError, OSError):
                time.sleep(0.01)
        assert child is not None and child != shell.pid
        assert bench_compare.proc_name(shell.pid) == "sh"
        assert bench_compare.proc_name(child) == "sleep"
    finally:
        for p in bench_compare._children(shell.pid):
            os.kill(p, 9)
        shell.kill()
        shell.wait()
