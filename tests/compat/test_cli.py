"""`zkcompat serve` as a process: its flags, its port report and a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest
from kazoo.client import KazooClient

from protocol import records
from protocol.framing import FrameDecoder, frame
from protocol.messages import decode_connect_response, encode_connect_request
from zkcompat.servers import ZkcompatProcess


def _serve_parser():
    from zkcompat.cli import _build_parser

    parser = _build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices["serve"]


def test_serve_help_documents_every_flag():
    """`zkcompat serve --help` lists every flag the command accepts, each with a help text."""
    out = subprocess.run([sys.executable, "-m", "zkcompat", "serve", "--help"], capture_output=True, text=True,
                         check=True).stdout
    flags = [(opt, action) for action in _serve_parser()._actions for opt in action.option_strings]
    assert len(flags) >= 10
    for opt, action in flags:
        assert opt in out, opt
        assert action.help, "%s has no help text" % opt
    for flag in ("--config", "--host", "--port", "--in-memory", "--data-dir", "--print-port", "--log-level"):
        assert flag in out  # the flags the README shows


def test_serve_json_logs_one_object_per_line_with_hex_session_ids():
    """--log-format json: every stderr line is a JSON object; session events carry the id in hex."""
    import json

    server = ZkcompatProcess("--log-format", "json").start()
    try:
        client = KazooClient(server.hosts)
        client.start(timeout=10)
        session_id = client.client_id[0]
        client.stop()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(10) == 0
        lines = server.stderr_path.read_text().splitlines()
    finally:
        server.stop()
    events = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "thread", "message"} <= set(e) for e in events)
    assert any(e["message"].startswith("zkcompat") and "serving on" in e["message"] for e in events)
    assert any(e.get("session") == "0x%x" % session_id for e in events), lines


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_signal(sig):
    """The server answers a client, then exits 0 on SIGTERM or SIGINT and says so in its log."""
    server = ZkcompatProcess().start()
    try:
        client = KazooClient(server.hosts)
        client.start(timeout=10)
        client.create("/x")
        client.stop()
        server.proc.send_signal(sig)
        assert server.proc.wait(10) == 0
        assert "zkcompat stopped" in server.stderr_path.read_text()
    finally:
        server.stop()


def _negotiate(port: int, timeout_ms: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(frame(encode_connect_request(records.ConnectRequest(0, 0, timeout_ms, 0, bytes(16)), False)))
        decoder = FrameDecoder()
        frames = []
        while not frames:
            frames = decoder.feed(sock.recv(4096))
        return decode_connect_response(frames[0])[0].time_out


def test_serve_reads_zoo_cfg():
    """zoo.cfg's tickTime and session bounds decide the negotiated timeout."""
    server = ZkcompatProcess(config={"tickTime": "500", "maxSessionTimeout": "3000"}).start()
    try:
        assert _negotiate(server.port, 60000) == 3000
        assert _negotiate(server.port, 10) == 1000  # minSessionTimeout defaults to 2 ticks
    finally:
        server.stop()


def test_durable_serve_keeps_data_across_a_clean_restart(tmp_path):
    """With --data-dir, SIGTERM stops cleanly and a restart on the same dir serves the same tree."""
    data = str(tmp_path / "data")
    server = ZkcompatProcess("--data-dir", data).start()
    try:
        client = KazooClient(server.hosts)
        client.start(timeout=10)
        for i in range(20):
            client.create("/n%d" % i, b"v%d" % i)
        client.set("/n3", b"changed")
        client.stop()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(10) == 0
    finally:
        server.stop()
    again = ZkcompatProcess("--data-dir", data).start()
    try:
        client = KazooClient(again.hosts)
        client.start(timeout=10)
        assert sorted(client.get_children("/")) == sorted(["zookeeper"] + ["n%d" % i for i in range(20)])
        data3, stat = client.get("/n3")
        assert data3 == b"changed" and stat.version == 1
        client.stop()
    finally:
        again.stop()


def test_force_sync_no_keeps_one_log_file_open_across_rolls(tmp_path):
    """Under forceSync=no a rolled log file is closed at the next flush, as when syncing: a
    server that rolls its log every few dozen txns holds one log file open, not one per roll."""
    data = tmp_path / "data"
    server = ZkcompatProcess("--data-dir", str(data), config={"forceSync": "no", "snapCount": "20"}).start()
    try:
        client = KazooClient(server.hosts)
        client.start(timeout=10)
        for i in range(300):
            client.create("/n%d" % i, b"v")
        logs = sorted(p.name for p in (data / "version-2").glob("log.*"))
        assert len(logs) >= 10  # it did roll, many times
        fd_dir = "/proc/%d/fd" % server.proc.pid
        open_logs = [t for t in (os.readlink(os.path.join(fd_dir, fd)) for fd in os.listdir(fd_dir))
                     if os.path.basename(t).startswith("log.")]
        assert len(open_logs) == 1, open_logs
        client.stop()
    finally:
        server.stop()
    again = ZkcompatProcess("--data-dir", str(data)).start()  # and every txn is in the logs it rolled
    try:
        client = KazooClient(again.hosts)
        client.start(timeout=10)
        assert len(client.get_children("/")) == 301
        client.stop()
    finally:
        again.stop()


def test_data_inspect_and_verify(tmp_path):
    """`zkcompat data verify` passes on a data dir the server wrote and `inspect` lists its txns."""
    data = str(tmp_path / "data")
    server = ZkcompatProcess("--data-dir", data).start()
    try:
        client = KazooClient(server.hosts)
        client.start(timeout=10)
        client.create("/inspected", b"x")
        client.stop()
    finally:
        server.stop()
    verify = subprocess.run([sys.executable, "-m", "zkcompat", "data", "verify", data], capture_output=True, text=True)
    assert verify.returncode == 0 and verify.stdout.strip().endswith("OK")
    inspect = subprocess.run([sys.executable, "-m", "zkcompat", "data", "inspect", data], capture_output=True,
                             text=True, check=True)
    assert "/inspected" in inspect.stdout


def test_ensemble_command_prints_the_hosts_of_members_that_serve_one_history():
    """zkcompat ensemble --size 3 --observers 1: four members on loopback, one history, stops on SIGTERM."""
    proc = subprocess.Popen([sys.executable, "-m", "zkcompat", "ensemble", "--size", "3", "--observers", "1",
                             "--tick-time", "200", "--log-level", "WARNING"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        hosts = proc.stdout.readline().strip().split(",")
        assert len(hosts) == 4 and len(set(hosts)) == 4
        writer = KazooClient(",".join(hosts))
        writer.start(timeout=15)
        writer.create("/cli-ensemble", b"one")
        writer.stop()
        for host in hosts:
            reader = KazooClient(host)
            reader.start(timeout=15)
            reader.sync("/cli-ensemble")
            assert reader.get("/cli-ensemble")[0] == b"one"
            reader.stop()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def _mapped_files(pid: int) -> str:
    with open("/proc/%d/maps" % pid) as f:
        return f.read()


def test_serve_loads_tls_only_for_a_tls_port(tmp_path):
    """Without secureClientPort a serving process never loads pyOpenSSL/cryptography (a start-up
    cost); with it, the TLS port works (tests/compat/test_tls.py) and the libraries are there."""
    with ZkcompatProcess(config={"admin.enableServer": "false", "4lw.commands.whitelist": "*"}) as plain:
        assert plain.four_letter_word("ruok") == "imok"
        assert "cryptography" not in _mapped_files(plain.proc.pid)
    from .tls_certs import make_pki
    from .test_tls import tls_config

    pki = make_pki(tmp_path)
    with ZkcompatProcess(config=tls_config(pki, **{"admin.enableServer": "false", "4lw.commands.whitelist": "*"})) as secure:
        assert secure.four_letter_word("ruok") == "imok"
        assert "cryptography" in _mapped_files(secure.proc.pid)
