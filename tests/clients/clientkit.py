"""Shared helpers for the multi-language client suite (tests/clients).

Every client program (Java, Curator, C, Go, Node) speaks one tiny protocol on
stdout, one line per check::

    CHECK <name> PASS
    CHECK <name> FAIL <one-line reason>

Anything else on stdout/stderr is the client library's own logging.  A program
gets its arguments on the command line (see ``program_args``): the server's
address, the address of a ``CuttableProxy`` in front of it and the proxy's
control port, a fresh base path, and the super user's credentials.

The Python test names the checks it expects; a check that is missing from the
output counts as failed, so a program that dies half-way cannot pass.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
RESULTS_DIR = Path(os.environ.get("ZKCOMPAT_CLIENT_RESULTS", HERE / "results"))
SUPER_USER = "super"
SUPER_PASSWORD = "test"
_CHECK = re.compile(r"^CHECK (\S+) (PASS|FAIL)(?: (.*))?$")


def target() -> str:
    """The server under test: 'zkcompat' (default) or 'real' (ZKCOMPAT_TARGET=real, the control run)."""
    value = os.environ.get("ZKCOMPAT_TARGET", "zkcompat").strip().lower()
    if value not in ("zkcompat", "real"):
        raise pytest.UsageError("ZKCOMPAT_TARGET must be 'real' or 'zkcompat', not %r" % value)
    return value


def require_tool(name: str, install_hint: str) -> str:
    """Path of executable `name`, or fail the test saying how CI installs it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s not found: %s (tests/clients/install.sh installs it)" % (name, install_hint), pytrace=False)
    return path


def require_file(path: str | Path, install_hint: str) -> Path:
    """`path` if it exists, else fail the test saying how CI installs it."""
    p = Path(path)
    if not p.exists():
        pytest.fail("%s not found: %s (tests/clients/install.sh installs it)" % (p, install_hint), pytrace=False)
    return p


def debian_version(package: str) -> str:
    """Installed version of a Debian package ('?' when dpkg does not know it)."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        return "?"
    return out.stdout.strip() or "?"


def build(cmd: list[str], *, cwd: Path | None = None, env: dict | None = None, what: str, timeout: float = 300) -> None:
    """Run a compiler; fail (not error) with its whole output when it does not succeed."""
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            "building %s failed (exit %d): %s\n%s"
            % (what, proc.returncode, " ".join(map(str, cmd)), proc.stdout.decode(errors="replace")),
            pytrace=False,
        )


@dataclass
class Server:
    """What a client program needs to know about the server under test."""

    hosts: str
    host: str
    port: int
    target: str


@dataclass
class ChecksRun:
    """The outcome of one client program run: its CHECK lines, exit status and logs."""

    client: str
    expected: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    duration: float
    log_dir: Path
    results: dict[str, tuple[bool, str]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, client, expected, returncode, stdout, stderr, duration, log_dir) -> ChecksRun:
        run = cls(client, list(expected), returncode, stdout, stderr, duration, log_dir)
        for line in stdout.splitlines():
            m = _CHECK.match(line.strip())
            if m:
                name, verdict, detail = m.group(1), m.group(2), m.group(3) or ""
                if name in run.results:
                    # a check reported twice counts as failed (and keeps the failure's detail)
                    run.results[name] = (False, "reported twice: %s / %s" % (run.results[name][1], detail))
                else:
                    run.results[name] = (verdict == "PASS", detail)
                    run.order.append(name)
        return run

    @property
    def passed(self) -> list[str]:
        return [c for c in self.expected if self.results.get(c, (False, ""))[0]]

    @property
    def unexpected(self) -> list[str]:
        return [c for c in self.order if c not in self.expected]

    def tail(self, n: int = 40) -> str:
        out = "\n".join(self.stdout.splitlines()[-n:])
        err = "\n".join(self.stderr.splitlines()[-n:])
        return "--- stdout (last %d lines) ---\n%s\n--- stderr (last %d lines) ---\n%s\n(full logs in %s)" % (
            n,
            out,
            n,
            err,
            self.log_dir,
        )

    def assert_check(self, name: str) -> None:
        """Fail unless the program reported `name` as PASS."""
        if name not in self.results:
            pytest.fail(
                "%s: check %r was never reported (exit status %s)\n%s"
                % (self.client, name, self.returncode, self.tail()),
                pytrace=False,
            )
        ok, detail = self.results[name]
        if not ok:
            pytest.fail("%s: check %r failed: %s\n%s" % (self.client, name, detail, self.tail(15)), pytrace=False)

    def assert_complete(self) -> None:
        """Fail unless the program exited 0 and reported exactly the expected checks."""
        problems = []
        if self.returncode != 0:
            problems.append("exit status %s (None = killed after its time limit)" % self.returncode)
        if self.unexpected:
            problems.append("checks not listed in the test: %s" % ", ".join(self.unexpected))
        missing = [c for c in self.expected if c not in self.results]
        if missing:
            problems.append("checks never reported: %s" % ", ".join(missing))
        if problems:
            pytest.fail("%s: %s\n%s" % (self.client, "; ".join(problems), self.tail()), pytrace=False)


def program_args(server: Server, proxy, base: str) -> list[str]:
    """The five positional arguments every client program takes, in this order."""
    return [server.hosts, proxy.hosts, str(proxy.control_port), base, "%s:%s" % (SUPER_USER, SUPER_PASSWORD)]


def unique_base(client: str) -> str:
    """A fresh absolute path for one program run (the program creates it)."""
    return "/clients/%s-%s" % (client, uuid.uuid4().hex[:8])


def run_checks(
    client: str,
    cmd: list[str],
    expected: list[str],
    *,
    log_dir: Path,
    timeout: float = 150,
    env: dict | None = None,
    cwd: Path | None = None,
) -> ChecksRun:
    """Run one client program to completion (or kill it after `timeout`) and parse its CHECK lines."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / ("%s.stdout" % client), log_dir / ("%s.stderr" % client)
    start = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True
        )
        try:
            returncode = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            returncode = None
    duration = time.monotonic() - start
    return ChecksRun.parse(
        client,
        expected,
        returncode,
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
        duration,
        log_dir,
    )


def record_result(run: ChecksRun, *, name: str, version: str, covers: str, server_target: str) -> None:
    """Write this program run's row of the compatibility table (see compat_table.py)."""
    record_row(
        run.client,
        name=name,
        version=version,
        covers=covers,
        server_target=server_target,
        expected=run.expected,
        passed=run.passed,
        exit_status=run.returncode,
        seconds=run.duration,
    )


def record_row(
    client: str,
    *,
    name: str,
    version: str,
    covers: str,
    server_target: str,
    expected: list[str],
    passed: list[str],
    exit_status: int | None = 0,
    seconds: float = 0.0,
) -> None:
    """Write one client's row of the compatibility table: RESULTS_DIR/<target>/<client>.json."""
    out_dir = RESULTS_DIR / server_target
    out_dir.mkdir(parents=True, exist_ok=True)
    ok = [c for c in expected if c in passed]
    row = {
        "client": client,
        "name": name,
        "version": version,
        "covers": covers,
        "target": server_target,
        "passed": len(ok),
        "total": len(expected),
        "exit_status": exit_status,
        "failed": [c for c in expected if c not in ok],
        "seconds": round(seconds, 1),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out_dir / ("%s.json" % client)).write_text(json.dumps(row, indent=1) + "\n")
