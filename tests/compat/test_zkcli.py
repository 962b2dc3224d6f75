"""Apache ZooKeeper's own CLI (zkCli.sh from the Debian package) driven against the server.

Each test starts one JVM and feeds it a script on stdin (interactive mode without
JLine reads commands from stdin with no prompt).  After every command the script
runs ``printwatches`` (no argument), which prints "printwatches is on" and talks to
no server: that line separates the commands' outputs.  Watch notifications are
printed by zkCli's event thread at any moment, each as its own println chunk
("\\nWATCHER::" and "\\nWatchedEvent ..."), so they are lifted out of the stream
and checked as a separate, ordered list.  Error messages go to stderr, which is
merged into the same pipe (both streams autoflush per println).

Expected outputs are what Apache ZooKeeper 3.8 prints, with zxids, times and
session ids masked (zxids are numbered per command in order of appearance, so
equalities such as cZxid == mZxid are still checked).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from zkcompat.servers import ZKCLI

MARKER = "printwatches is on\n"
TIMEOUT = 60


@dataclass
class CliRun:
    header: str
    outputs: list[str]  # one per command, in order
    events: list[str]  # "type:X path:Y" of every WatchedEvent, in order
    returncode: int
    raw: str


def _zkcli_command() -> list[str]:
    if not ZKCLI.exists():
        pytest.fail(
            "zkCli.sh not found at %s: install Debian's zookeeper package (apt-get install -y zookeeper)" % ZKCLI
        )
    if shutil.which("java") is None:
        pytest.fail("java not found: zkCli.sh needs a JRE (apt-get install -y default-jre-headless)")
    return [str(ZKCLI)]


def _env() -> dict[str, str]:
    return dict(os.environ, CLIENT_JVMFLAGS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC", TZ="UTC")


def _clean(raw: str) -> tuple[str, list[str]]:
    """Drop logging/JVM chatter, lift out watcher chunks; answer (text, events)."""
    # SLF4J/log4j warnings and "Picked up JAVA_TOOL_OPTIONS" come from the JVM, not from the CLI.
    text = re.sub(r"^(SLF4J:|log4j:|Picked up ).*\n", "", raw, flags=re.MULTILINE)
    events = re.findall(r"\nWatchedEvent state:\w+ (type:\S+ path:\S+)\n", text)
    text = re.sub(r"\nWatchedEvent [^\n]*\n", "", text)
    text = text.replace("\nWATCHER::\n", "")
    return text, events


def zkcli(server: str, commands: list[str]) -> CliRun:
    """Run `commands` in one interactive zkCli session against `server` (host:port[/chroot])."""
    script = "".join("%s\nprintwatches\n" % command for command in commands) + "quit\n"
    proc = subprocess.run(
        _zkcli_command() + ["-server", server],
        input=script.encode(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=TIMEOUT,
        env=_env(),
        check=False,  # the exit status is asserted by the tests
    )
    raw = proc.stdout.decode("utf-8", "replace")
    text, events = _clean(raw)
    header, sep, body = text.partition("JLine support is disabled\n")
    assert sep, "zkCli did not start its command loop:\n" + raw
    parts = body.split(MARKER)
    assert len(parts) == len(commands) + 1, "expected %d outputs, got %d:\n%s" % (len(commands), len(parts) - 1, raw)
    assert parts[-1] == "", "unexpected output after the last command: %r" % parts[-1]
    return CliRun(header, parts[:-1], events, proc.returncode, raw)


def zkcli_once(server: str, *args: str) -> CliRun:
    """Run a single command non-interactively (zkCli.sh -server S cmd args...)."""
    proc = subprocess.run(
        _zkcli_command() + ["-server", server, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=TIMEOUT,
        env=_env(),
        check=False,  # the exit status is asserted by the tests
    )
    raw = proc.stdout.decode("utf-8", "replace")
    text, events = _clean(raw)
    header, _, body = text.partition("\n")
    assert header.startswith("Connecting to "), raw
    return CliRun(header, [body], events, proc.returncode, raw)


def mask(text: str, chroot: str | None = None) -> str:
    """Mask times and session ids; number zxids by first appearance; replace the chroot by <T>."""
    zxids: dict[str, str] = {}

    def zxid(match):
        value = match.group(2)
        zxids.setdefault(value, "<z%d>" % (len(zxids) + 1))
        return "%s = %s" % (match.group(1), zxids[value])

    text = re.sub(r"^(cZxid|mZxid|pZxid) = (0x[0-9a-f]+)$", zxid, text, flags=re.MULTILINE)
    text = re.sub(r"^(ctime|mtime) = .+$", r"\1 = <time>", text, flags=re.MULTILINE)
    text = re.sub(r"^ephemeralOwner = 0x(?!0$)[0-9a-f]+$", "ephemeralOwner = <session>", text, flags=re.MULTILINE)
    if chroot:
        text = text.replace(chroot, "<T>")
    return text


def stat_block(
    czxid="<z1>",
    mzxid="<z1>",
    pzxid="<z1>",
    cversion=0,
    version=0,
    aversion=0,
    owner="0x0",
    length=0,
    children=0,
) -> str:
    return (
        "cZxid = %s\nctime = <time>\nmZxid = %s\nmtime = <time>\npZxid = %s\n"
        "cversion = %d\ndataVersion = %d\naclVersion = %d\nephemeralOwner = %s\n"
        "dataLength = %d\nnumChildren = %d\n"
        % (czxid, mzxid, pzxid, cversion, version, aversion, owner, length, children)
    )


def check(run: CliRun, script: list[tuple[str, str]], chroot: str | None = None) -> None:
    """Compare every command's masked output with the expectation, reporting all mismatches at once."""
    mismatches = []
    for (command, expected), actual in zip(script, run.outputs):
        actual = mask(actual, chroot)
        if actual != expected:
            mismatches.append("%s\n  expected: %r\n  actual:   %r" % (command, expected, actual))
    assert not mismatches, "zkCli output differs:\n" + "\n".join(mismatches)


def run_script(server: str, script: list[tuple[str, str]], chroot: str | None = None) -> CliRun:
    run = zkcli(server, [command for command, _ in script])
    check(run, script, chroot)
    assert run.returncode == 0, run.raw
    return run


# --------------------------------------------------------------------------- tests


def test_zkcli_create_get_ls_stat(zk_hosts, zk_chroot):
    """create (-s -e -c -t, data), get (-s), ls (-s -R), stat print exactly what ZooKeeper's CLI prints."""
    script = [
        ("create /a hello", "Created /a\n"),
        ("create /a again", "Node already exists: /a\n"),
        ("create /missing/b", "Node does not exist: /missing/b\n"),
        ("create -s /a/s- one", "Created /a/s-0000000000\n"),
        ("create -s /a/s- two", "Created /a/s-0000000001\n"),
        ("create -e /a/e eph", "Created /a/e\n"),
        ("create -e /a/e/kid", "Ephemerals cannot have children: /a/e/kid\n"),
        ("create -e -s /a/es", "Created /a/es0000000003\n"),
        ("create -c /a/c", "Created /a/c\n"),
        ("create -c /a/c/x", "Created /a/c/x\n"),
        ("create -t 60000 /a/t tdata", "Created /a/t\n"),
        ("create -t 60000 -s /a/ts", "Created /a/ts0000000006\n"),
        ("create -t 0 /a/bad", "ttl must be positive and cannot be larger than: 1099511627775\n"),
        ("create /nodata", "Created /nodata\n"),
        ('create /q "a b c"', "Created /q\n"),
        ("get /a", "hello\n"),
        ("get /nodata", "null\n"),
        ('set /nodata ""', ""),
        ("get /nodata", "\n"),
        ("get /q", "a b c\n"),
        ("get /missing", "Node does not exist: /missing\n"),
        ("get -s /a/e", "eph\n" + stat_block(owner="<session>", length=3)),
        ("get -s /a/t", "tdata\n" + stat_block(length=5)),
        ("stat /a/c", stat_block(pzxid="<z2>", cversion=1, children=1)),
        ("stat /missing", "Node does not exist: /missing\n"),
        ("ls /a", "[c, e, es0000000003, s-0000000000, s-0000000001, t, ts0000000006]\n"),
        (
            "ls -s /a",
            "[c, e, es0000000003, s-0000000000, s-0000000001, t, ts0000000006]\n"
            + stat_block(pzxid="<z2>", cversion=7, length=5, children=7),
        ),
        ("ls /missing", "Node does not exist: /missing\n"),
        (
            "ls -R /a",
            "/a\n/a/c\n/a/e\n/a/es0000000003\n/a/s-0000000000\n/a/s-0000000001\n/a/t\n/a/ts0000000006\n/a/c/x\n",
        ),
        ("ls -R /missing", "Node does not exist: /missing\n"),
        ("ls /", "[a, nodata, q]\n"),
    ]
    run_script(zk_hosts + zk_chroot, script)


def test_zkcli_set_delete_deleteall(zk_hosts, zk_chroot):
    """set (-s -v), delete (-v), deleteall (-b) and their error messages."""
    script = [
        ("create /u v0", "Created /u\n"),
        ("set /u v1", ""),
        ("set -s /u v2", stat_block(mzxid="<z2>", version=2, length=2)),
        ("set -v 5 /u v3", "version No is not valid : /u\n"),
        ("set -v 2 /u v3", ""),
        ("get -s /u", "v3\n" + stat_block(mzxid="<z2>", version=3, length=2)),
        ("set /missing x", "Node does not exist: /missing\n"),
        ("delete -v 9 /u", "version No is not valid : /u\n"),
        ("create /u/k", "Created /u/k\n"),
        ("delete /u", "Node not empty: /u\n"),
        ("delete /missing", "Node does not exist: /missing\n"),
        ("delete /u/k", ""),
        ("delete -v 3 /u", ""),
        ("stat /u", "Node does not exist: /u\n"),
        ("create /t", "Created /t\n"),
        ("create /t/1", "Created /t/1\n"),
        ("create /t/1/2", "Created /t/1/2\n"),
        ("create /t/3", "Created /t/3\n"),
        ("deleteall /t -b 1", ""),
        ("ls /", "[]\n"),
        ("deleteall /missing", "Node does not exist: /missing\n"),
    ]
    run_script(zk_hosts + zk_chroot, script)


def test_zkcli_acl_commands(zk_hosts, zk_chroot):
    """getAcl (-s), setAcl (-s -v -R), create with ACL, addauth, NoAuth and invalid-ACL messages."""
    alice = "alice:V55/p2T0OpjQ+low3NVAH4aLvm0="  # digest of alice:pw
    script = [
        ("create /w", "Created /w\n"),
        ("getAcl /w", "'world,'anyone\n: cdrwa\n"),
        ("getAcl -s /w", "'world,'anyone\n: cdrwa\n" + stat_block()),
        ("setAcl /w world:anyone:cdra", ""),
        ("getAcl /w", "'world,'anyone\n: cdra\n"),
        ("setAcl -v 0 /w world:anyone:cdrwa", "version No is not valid : /w\n"),
        ("setAcl -s -v 1 /w world:anyone:cdrwa", stat_block(aversion=2)),
        ("create /w/a", "Created /w/a\n"),
        ("create /w/a/b", "Created /w/a/b\n"),
        ("setAcl -R /w ip:127.0.0.1:cdrwa", ""),
        ("getAcl /w/a/b", "'ip,'127.0.0.1\n: cdrwa\n"),
        ("setAcl /w bogus:x:cdrwa", "Acl is not valid : /w\n"),
        ("setAcl /w ip:nonsense:cdrwa", "Acl is not valid : /w\n"),
        ("create /x xd digest:u:abc=:cdrwa", "Created /x\n"),
        ("get /x", "Insufficient permission : /x\n"),
        ("getAcl /x", "Insufficient permission : /x\n"),
        ("set /x y", "Insufficient permission : /x\n"),
        ("create /r rr world:anyone:r,digest:bob:xyz=:cdrwa", "Created /r\n"),
        ("getAcl /r", "'world,'anyone\n: r\n'digest,'bob:x\n: cdrwa\n"),
        ("create /r/kid", "Insufficient permission : /r/kid\n"),
        ("set /r z", "Insufficient permission : /r\n"),
        ("setAcl -R /r ip:127.0.0.1:cdrwa", "KeeperErrorCode = NoAuth for /r"),  # sic: no newline
        ("create /mine m auth::cdrwa", "KeeperErrorCode = InvalidACL for /mine\nAcl is not valid : /mine\n"),
        ("addauth digest alice:pw", ""),
        ("create /mine m auth::cdrwa", "Created /mine\n"),
        ("getAcl /mine", "'digest,'%s\n: cdrwa\n" % alice),
        ("create /mine2 m auth:somebody:r", "Created /mine2\n"),
        ("getAcl /mine2", "'digest,'alice:x\n: r\n"),
        ("addauth digest super:test", ""),
        ("get /x", "xd\n"),
        ("getAcl /x", "'digest,'u:abc=\n: cdrwa\n"),
        ("getAcl /r", "'world,'anyone\n: r\n'digest,'bob:xyz=\n: cdrwa\n"),
        ("set /r z", ""),
        ("get /r", "z\n"),
    ]
    run_script(zk_hosts + zk_chroot, script)


def test_zkcli_whoami(zk_hosts, zk_chroot):
    """whoami lists the session's identities: ip always, then added digests and the super identity."""
    run = zkcli(
        zk_hosts + zk_chroot, ["whoami", "addauth digest alice:pw", "whoami", "addauth digest super:test", "whoami"]
    )
    assert run.returncode == 0, run.raw

    def identities(output):
        lines = output.splitlines()
        assert lines[0] == "Auth scheme: User", output
        return sorted(lines[1:])

    assert identities(run.outputs[0]) == ["ip: 127.0.0.1"]
    assert run.outputs[1] == ""
    assert identities(run.outputs[2]) == ["digest: alice", "ip: 127.0.0.1"]
    assert identities(run.outputs[4]) == ["digest: alice", "digest: super", "ip: 127.0.0.1", "super: "]


def test_zkcli_watches(zk_hosts, zk_chroot):
    """get/ls/stat -w, addWatch (recursive and PERSISTENT) and removewatches, with the events zkCli prints."""
    script = [
        ("create /x", "Created /x\n"),
        ("get -w /x", "null\n"),
        ("set /x d1", ""),
        ("ls -w /x", "[]\n"),
        ("create /x/c1", "Created /x/c1\n"),
        ("stat -w /x/c1", stat_block()),
        ("delete /x/c1", ""),
        ("stat -w /x/nothere", "Node does not exist: /x/nothere\n"),
        ("create /x/nothere", "Created /x/nothere\n"),
        ("addWatch /x", ""),
        ("create /x/r1", "Created /x/r1\n"),
        ("create /x/r1/r2", "Created /x/r1/r2\n"),
        ("set /x/r1 z", ""),
        ("addWatch -m PERSISTENT /x/r1", ""),
        ("set /x/r1 y", ""),
        ("create /x/r1/r3", "Created /x/r1/r3\n"),
        ("removewatches /x/r1", ""),
        ("removewatches /x/r1", "KeeperErrorCode = No such watcher for /x/r1\n"),
        ("get -w /x", "d1\n"),
        ("removewatches /x -d", ""),
        ("removewatches /x -c", "KeeperErrorCode = No such watcher for /x\n"),
        ("set /x/r1 w", ""),  # nothing fires: see below
        ("removewatches /nope", "KeeperErrorCode = No such watcher for /nope\n"),
        ("removewatches /x/r1 -l", "KeeperErrorCode = No such watcher for /x/r1\n"),
    ]
    run = run_script(zk_hosts + zk_chroot, script)
    assert run.events == [
        "type:None path:null",  # connected
        "type:NodeDataChanged path:/x",
        "type:NodeChildrenChanged path:/x",
        "type:NodeDeleted path:/x/c1",
        "type:NodeCreated path:/x/nothere",
        "type:NodeCreated path:/x/r1",
        "type:NodeCreated path:/x/r1/r2",
        "type:NodeDataChanged path:/x/r1",
        "type:NodeDataChanged path:/x/r1",
        "type:NodeCreated path:/x/r1/r3",  # the recursive watch on /x (no child event for it)...
        "type:NodeChildrenChanged path:/x/r1",  # ...and the PERSISTENT watch on /x/r1
        "type:PersistentWatchRemoved path:/x/r1",
        "type:DataWatchRemoved path:/x",
        # No event for the last `set /x/r1 w`: `get -w /x` re-registered /x as a one-shot watch
        # (ZooKeeper 3.8 keeps one mode per session and path, the latest), and removewatches -d removed it.
        "type:None path:null",  # closed
    ]


def test_zkcli_server_queries(zk_hosts, zk_chroot):
    """getEphemerals (prefix match, session's own), getAllChildrenNumber, sync, config, reconfig, close/connect."""
    t = zk_chroot
    script = [
        ("create -e %s/ab1" % t, "Created <T>/ab1\n"),
        ("create %s/ab2" % t, "Created <T>/ab2\n"),
        ("create -e %s/ab2/x" % t, "Created <T>/ab2/x\n"),
        ("create -e %s/abc" % t, "Created <T>/abc\n"),
        ("create -e %s/b" % t, "Created <T>/b\n"),
        ("getEphemerals %s/zzz" % t, "[]\n"),
        ("getAllChildrenNumber %s" % t, "5\n"),
        ("getAllChildrenNumber %s/ab2" % t, "1\n"),
        ("getAllChildrenNumber %s/ab1" % t, "0\n"),
        ("getAllChildrenNumber %s/missing" % t, "Node does not exist: <T>/missing\n"),
        ("sync %s" % t, "Sync is OK\n"),
        ("sync %s/missing" % t, "Sync is OK\n"),
        ("config", "\n"),
        ("config -s", "\n" + stat_block(czxid="<z1>", mzxid="<z1>", pzxid="<z1>", aversion=-1)),
        ("config -c", " \n"),
        ("reconfig -remove 1", "KeeperErrorCode = Reconfig is disabled\n"),
        ("reconfig -add server.2=127.0.0.1:2888:3888;2181", "KeeperErrorCode = Reconfig is disabled\n"),
        ("close", ""),
        # After close, the separator command itself prints "Not connected" (zkCli checks the
        # connection after handling printwatches), which lands in the next command's output.
        ("connect %s" % zk_hosts, "Not connected\n"),
        ("getEphemerals %s" % t, "[]\n"),
        ("getAllChildrenNumber %s" % t, "1\n"),
        ("ls %s" % t, "[ab2]\n"),
    ]
    commands = [command for command, _ in script]
    # Ephemeral listings come in no particular order: checked as sets, in the same session.
    listings = ["getEphemerals %s/ab" % t, "getEphemerals %s/b" % t, "getEphemerals /"]
    run = zkcli(zk_hosts, commands[:5] + listings + commands[5:])
    assert run.returncode == 0, run.raw

    def as_set(output):
        assert output.startswith("[") and output.endswith("]\n"), output
        inner = output[1:-2]
        return set(inner.split(", ")) if inner else set()

    assert as_set(run.outputs[5]) == {t + "/ab1", t + "/ab2/x", t + "/abc"}
    assert as_set(run.outputs[6]) == {t + "/b"}
    assert as_set(run.outputs[7]) == {t + "/ab1", t + "/ab2/x", t + "/abc", t + "/b"}
    check(CliRun(run.header, run.outputs[:5] + run.outputs[8:], [], 0, run.raw), script, chroot=t)


@pytest.fixture
def quota_cleanup(zk_admin, zk_chroot):
    """Remove the quota nodes of this test's chroot whatever happens."""
    yield
    path = "/zookeeper/quota" + zk_chroot
    if zk_admin.exists(path):
        zk_admin.delete(path, recursive=True)


def test_zkcli_quota(zk_hosts, zk_chroot, quota_cleanup):
    """setquota/listquota/delquota: limits are the client's, the usage stats are maintained by the server."""
    t = zk_chroot
    limits = "absolute path is /zookeeper/quota<T>/qa/zookeeper_limits\n"
    script = [
        ("create %s/qa" % t, "Created <T>/qa\n"),
        ("create %s/qa/b" % t, "Created <T>/qa/b\n"),
        ("setquota -n 2 %s/qa" % t, ""),
        (
            "listquota %s/qa" % t,
            limits
            + "Output quota for <T>/qa count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1\n"
            + "Output stat for <T>/qa count=2,bytes=0\n",
        ),
        ("setquota -b 100 %s/qa" % t, ""),
        ("create %s/qa/c" % t, "Created <T>/qa/c\n"),
        ("set %s/qa/b 0123456789" % t, ""),
        ("create %s/qa/c/d dd" % t, "Created <T>/qa/c/d\n"),
        (
            "listquota %s/qa" % t,
            limits
            + "Output quota for <T>/qa count=2,bytes=100=;byteHardLimit=-1;countHardLimit=-1\n"
            + "Output stat for <T>/qa count=4,bytes=12\n",
        ),
        ("setquota -N 3 %s/qa" % t, "[Warning]: the count quota you create is less than the existing count:4\n"),
        ("create %s/qa/e" % t, "Created <T>/qa/e\n"),  # hard limits are not enforced by default
        ("set %s/qa/b 01234" % t, ""),
        ("delete %s/qa/c/d" % t, ""),
        (
            "listquota %s/qa" % t,
            limits
            + "Output quota for <T>/qa count=2,bytes=100=;byteHardLimit=-1;countHardLimit=3\n"
            + "Output stat for <T>/qa count=4,bytes=5\n",
        ),
        ("setquota -n 5 %s/qa/b" % t, "<T>/qa/b has a parent <T>/qa which has a quota\n"),
        ("delquota -n %s/qa" % t, ""),
        (
            "listquota %s/qa" % t,
            limits
            + "Output quota for <T>/qa count=-1,bytes=100=;byteHardLimit=-1;countHardLimit=3\n"
            + "Output stat for <T>/qa count=4,bytes=5\n",
        ),
        ("delquota %s/qa" % t, ""),
        ("listquota %s/qa" % t, limits + "quota for <T>/qa does not exist.\n"),
        ("delquota %s/qa" % t, "Quota does not exist for <T>/qa\n"),
        ("setquota -n 2 %s/missing" % t, "<T>/missing does not exist.\n"),
    ]
    run_script(zk_hosts, script, chroot=t)


def test_zkcli_non_interactive_single_commands(zk_hosts, zk_chroot):
    """`zkCli.sh -server S cmd args` runs one command: exit 0 on success, 1 on a server error."""
    server = zk_hosts + zk_chroot
    created = zkcli_once(server, "create", "/solo", "data")
    assert created.returncode == 0, created.raw
    assert created.header == "Connecting to %s" % server
    assert created.outputs[0] == "Created /solo\n"
    missing = zkcli_once(server, "get", "/nope")
    assert missing.returncode == 1, missing.raw
    assert missing.outputs[0] == "Node does not exist: /nope\n"
    assert created.events[0] == "type:None path:null"
