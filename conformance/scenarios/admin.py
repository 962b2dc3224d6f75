"""The AdminServer's JSON commands: each command and alias, its answer's shape, values that vary masked.

See normalize.normalize_admin and normalize.ADMIN_MASKS for exactly what is
masked per command.  The commands that report sessions, watches and ephemerals
(stats, server_stats, monitor, connections, watches, watches_by_path,
watch_summary, dump) run with a session of the scenario open, holding watches
and an ephemeral, as the four-letter-word scenarios do.
"""

from __future__ import annotations

from . import register, scenario
from .fourlw import _with_session

# ZooKeeper 3.8's commands with their aliases (Commands.java), and whether the answer reports
# sessions or watches.  system_properties is ZooKeeper's too: it lists the JVM's properties.
COMMANDS = [
    (("ruok",), False),
    (("stats", "stat"), True),
    (("server_stats", "srvr"), True),
    (("monitor", "mntr"), True),
    (("configuration", "conf", "config"), False),
    (("connections", "cons"), True),
    (("connection_stat_reset", "crst"), True),
    (("stat_reset", "srst"), True),
    (("watches", "wchc"), True),
    (("watches_by_path", "wchp"), True),
    (("watch_summary", "wchs"), True),
    (("dump",), True),
    (("environment", "env", "envi"), False),
    (("is_read_only", "isro"), False),
    (("get_trace_mask", "gtmk"), False),
    (("set_trace_mask", "stmk"), False),
    (("hash",), False),
    (("last_snapshot", "lsnp"), False),
    (("leader", "lead"), False),
    (("dirs",), False),
    (("initial_configuration", "icfg"), False),
    (("voting_view",), False),
    (("zabstate",), False),
    (("observer_connection_stat_reset", "orst"), False),
    (("observers", "obsr"), False),
    (("system_properties",), False),
]

for _names, _session in COMMANDS:
    for _name in _names:

        def _f(t, name=_name, session=_session):
            c = _with_session(t) if session else None
            t.admin(name)
            if c is not None:
                c.ping()

        register(
            "admin.%s" % _name,
            _f,
            "/commands/%s%s: its answer's shape%s."
            % (_name, "" if _name == _names[0] else " (alias of %s)" % _names[0],
               " with one watching session" if _session else ""),
        )


@scenario("admin.unknown_command")
def _(t):
    """An unknown command answers 200 with {"command": <name>, "error": "Unknown command: <name>"}."""
    t.admin("nosuch")
    t.admin("RUOK")


@scenario("admin.command_list")
def _(t):
    """The command URL itself (with and without a trailing slash) lists every command as a link."""
    t.admin("")
    t.admin("/")


@scenario("admin.set_trace_mask_sets_the_mask")
def _(t):
    """set_trace_mask?traceMask=N answers the new mask, get_trace_mask reads it back; bad masks are errors."""
    t.admin("set_trace_mask", {"traceMask": "10"})
    t.admin("get_trace_mask")
    t.admin("stmk", {"traceMask": "x12"})
    t.admin("stmk", {"traceMask": "99999999999999999999"})
    t.admin("set_trace_mask", {"traceMask": "306"})
    t.admin("gtmk")


@scenario("admin.connection_stat_reset_clears_connections")
def _(t):
    """After connection_stat_reset, each connection's counters and last operation start again."""
    c = _with_session(t)
    t.admin("connections")
    t.admin("connection_stat_reset")
    t.admin("connections")
    c.exists(t.path("w"))
    t.admin("connections")


@scenario("admin.watches_follow_two_sessions")
def _(t):
    """watches, watches_by_path and watch_summary across two sessions, before and after a watch fires."""
    c1 = _with_session(t)
    c2 = t.session()
    c2.get_data(t.path("w"), watch=True)
    c2.exists(t.path("e"), watch=True)
    for name in ("watches", "watches_by_path", "watch_summary", "dump"):
        t.admin(name)
    c1.set_data(t.path("w"), b"x")
    c1.wait_notification()
    c2.wait_notification()
    for name in ("watches", "watches_by_path", "watch_summary"):
        t.admin(name)


@scenario("admin.monitor_follows_the_tree")
def _(t):
    """monitor's counts (znodes, ephemerals, watches, data size, response sizes) follow a session's writes."""
    c = _with_session(t)
    t.admin("monitor")
    c.create(t.path("w", "a"), b"12345")
    c.delete(t.path("e"))
    t.admin("monitor")


@scenario("admin.server_stats_follow_the_tree")
def _(t):
    """server_stats (node count, last zxid, response sizes) and dump follow a session's writes and deletes."""
    c = _with_session(t)
    t.admin("server_stats")
    c.create(t.path("w", "a"), b"12345")
    c.delete(t.path("e"))
    t.admin("server_stats")
    t.admin("dump")  # the session's only ephemeral is gone: is the session still listed?


@scenario("admin.stat_reset_clears_response_sizes")
def _(t):
    """stat_reset sets the client response sizes back to -1; the next response sets all three."""
    c = _with_session(t)
    t.admin("stat_reset")
    t.admin("server_stats")
    c.get_data(t.path("w"))
    t.admin("server_stats")
