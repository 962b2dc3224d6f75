"""The zkcompat command line: ``zkcompat serve`` runs a server as Apache ZooKeeper does."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from zkcompat import __version__


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zkcompat", description="A ZooKeeper wire-compatible server.")
    parser.add_argument("--version", action="version", version="zkcompat %s" % __version__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run a ZooKeeper server", description="Run a standalone ZooKeeper server.")
    serve.add_argument("--config", metavar="ZOO_CFG", help="a zoo.cfg file, read as Apache ZooKeeper reads it")
    serve.add_argument("--host", help="address to listen on (default: zoo.cfg clientPortAddress, else all)")
    serve.add_argument("--port", type=int, help="client port (default: zoo.cfg clientPort, else 2181; 0 = any)")
    serve.add_argument("--in-memory", action="store_true",
                       help="keep data in memory only (a throwaway server for tests)")
    serve.add_argument("--data-dir", help="data directory (overrides zoo.cfg dataDir)")
    serve.add_argument("--print-port", action="store_true",
                       help="print the bound client port on stdout once serving (useful with --port 0), then the "
                            "TLS port when secureClientPort is set")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                       help="log level on stderr (default INFO)")
    serve.add_argument("--jaas", metavar="FILE",
                       help="a JAAS login configuration whose Server section lists the SASL DIGEST-MD5 users "
                            "(user_NAME=\"PASSWORD\"); default: the ZKCOMPAT_JAAS environment variable")
    serve.add_argument("--log-format", default="text", choices=["text", "json"],
                       help="log lines on stderr as text (default) or as one JSON object per line")
    serve.add_argument("--server-id", type=int,
                       help="this server's id in an ensemble (default: the myid file in the data dir)")
    ens = sub.add_parser("ensemble", help="run a whole local ensemble on loopback ports (for development)",
                         description="Run a whole ensemble of zkcompat servers in this process, on loopback.")
    ens.add_argument("--size", type=int, default=3, help="voting members (default 3)")
    ens.add_argument("--observers", type=int, default=0, help="observers (default 0)")
    ens.add_argument("--tick-time", type=int, default=2000, help="tickTime in ms (default 2000)")
    ens.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    ens.add_argument("--log-format", default="text", choices=["text", "json"])
    sub.add_parser("bench", help="load-test any ZooKeeper-protocol server", add_help=False)
    sub.add_parser("xcheck", help="a proxy that serves from a real ZooKeeper and cross-checks zkcompat",
                   add_help=False)
    data = sub.add_parser("data", help="read a data dir: inspect logs and snapshots, verify checksums")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    inspect = data_sub.add_parser("inspect", help="list the txns of logs and dump snapshots (like LogFormatter)")
    inspect.add_argument("path", help="a data dir, a version-2 dir, a log.* or a snapshot.* file")
    inspect.add_argument("--data", action="store_true", help="also print znode data in snapshot dumps")
    verify = data_sub.add_parser("verify", help="check checksums, digests and zxid continuity")
    verify.add_argument("path", help="a data dir")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        from zkcompat.bench import main as bench_main

        return bench_main(argv[1:])
    if argv[:1] == ["xcheck"]:
        from zkcompat.xcheck import main as xcheck_main

        return xcheck_main(argv[1:])
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "ensemble":
        return _ensemble(args)
    if args.command == "data":
        from zkcompat.storage import tools

        if args.data_command == "inspect":
            try:
                tools.inspect(args.path, sys.stdout, dump_data=args.data)
                sys.stdout.flush()
            except BrokenPipeError:  # `| head`: stop quietly
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        problems = tools.verify(args.path)
        for problem in problems:
            print(problem)
        print("%s: %s" % (args.path, "%d problems" % len(problems) if problems else "OK"))
        return 1 if problems else 0
    return 2


def _serve(args) -> int:
    from zkcompat import logs

    logs.setup(args.log_level, args.log_format)
    log = logging.getLogger("zkcompat")
    from zkcompat.config import ConfigError, load_config
    from zkcompat.core.config import ServerConfig

    try:
        config = load_config(args.config) if args.config else ServerConfig()
    except ConfigError as e:
        log.error("%s", e)
        return 2
    if args.data_dir:
        config.data_dir = args.data_dir
    jaas = args.jaas or os.environ.get("ZKCOMPAT_JAAS")
    if jaas:
        from zkcompat.config import load_jaas

        try:
            load_jaas(config, jaas)
        except ConfigError as e:
            log.error("%s", e)
            return 2
        log.info("SASL DIGEST-MD5 with %d users from %s", len(config.sasl_users or ()), jaas)
    host = args.host if args.host is not None else (config.client_port_address or "")
    port = args.port if args.port is not None else config.client_port

    _skip_unused_tls(config)
    from twisted.internet import reactor

    from zkcompat.core.server import ZooKeeperServer
    from zkcompat.net import gcpolicy
    from zkcompat.net.client_port import ClientFactory, ReactorClock

    exit_code = [0]
    durable = None
    if config.is_ensemble:
        member = _start_member(config, args, reactor, log, host, port)
        if member is None:
            return 1
        if args.print_port:
            sys.stdout.write("%d\n" % config.client_port)
            if config.secure_client_port is not None:
                sys.stdout.write("%d\n" % config.secure_client_port)
            sys.stdout.flush()
        reactor.addSystemEventTrigger("before", "shutdown", member.stop)
        gcpolicy.install()
        reactor.run()
        log.info("zkcompat stopped")
        return exit_code[0]
    if args.in_memory or not config.data_dir:
        if not args.in_memory:
            log.info("no data dir (--data-dir or zoo.cfg dataDir): data lives in memory only")
        server = ZooKeeperServer(config, ReactorClock(reactor))
    else:
        server, durable = _open_durable(config, reactor, log, exit_code)
        if server is None:
            return 1
    server.start()
    try:
        listening = reactor.listenTCP(port, ClientFactory(server), interface=host)
    except Exception as e:  # CannotListenError and friends
        log.error("cannot listen on %s:%s: %s", host or "*", port, e)
        return 1
    bound = listening.getHost().port
    config.client_port = bound
    log.info("zkcompat %s serving on %s:%d", __version__, host or "0.0.0.0", bound)
    if config.secure_client_port is not None and _listen_secure(config, server, reactor, log) is None:
        server.stop()
        return 1
    http_code = _start_http(config, reactor, log, server, admin_fatal=True)
    if http_code:
        server.stop()
        return http_code
    if args.print_port:
        sys.stdout.write("%d\n" % bound)
        if config.secure_client_port is not None:
            sys.stdout.write("%d\n" % config.secure_client_port)
        sys.stdout.flush()
    reactor.addSystemEventTrigger("before", "shutdown", server.stop)
    gcpolicy.install()  # after recovery: the loaded tree is frozen at once
    reactor.run()
    log.info("zkcompat stopped")
    return exit_code[0]


def _skip_unused_tls(config) -> None:
    """Keep Twisted from loading TLS (pyOpenSSL and cryptography, about 40 ms of a 0.3 s start)
    when no TLS port is configured.

    Twisted's reactor imports its TLS layers when it is imported, and takes a no-TLS branch when
    they cannot be imported. zkcompat's only TLS is secureClientPort (a TLSMemoryBIOFactory over
    plain TCP): without it, nothing in a serving process uses them. Only for this process, which
    serves and nothing else, and only before the reactor is imported.
    """
    if config.secure_client_port is not None or "twisted.internet.reactor" in sys.modules:
        return
    for name in ("twisted.internet._newtls", "twisted.protocols.tls", "twisted.internet.ssl"):
        sys.modules.setdefault(name, None)  # an import of it now fails: Twisted's no-TLS branch


def _start_http(config, reactor, log, server, peer=None, admin_fatal=True) -> int:
    """The AdminServer and Prometheus /metrics, as zoo.cfg asks; returns an exit code, 0 when fine.

    Like ZooKeeper: a standalone server that cannot start its AdminServer exits
    (ExitCode.UNABLE_TO_START_ADMIN_SERVER, 4); an ensemble member logs a warning and
    serves on (QuorumPeer.start).  A metrics provider that cannot start stops either.
    """
    if config.admin_enable_server:
        from zkcompat.net.admin import listen_admin

        try:
            port = listen_admin(reactor, server, config, peer=peer)
        except Exception as e:  # CannotListenError and friends
            if admin_fatal:
                log.error("Unable to start AdminServer on %s:%d, exiting abnormally: %s",
                          config.admin_server_address, config.admin_server_port, e)
                return 4
            log.warning("Problem starting AdminServer on %s:%d: %s", config.admin_server_address,
                        config.admin_server_port, e)
        else:
            reactor.addSystemEventTrigger("before", "shutdown", port.stopListening)
            log.info("AdminServer serving on http://%s:%d%s", config.admin_server_address or "0.0.0.0",
                     port.getHost().port, "/" + config.admin_command_url.strip("/"))
    if config.metrics_provider_class and not config.prometheus_enabled:
        log.warning("metricsProvider.className %s is not supported; no metrics endpoint",
                    config.metrics_provider_class)
    elif config.prometheus_enabled:
        from zkcompat.net.metrics import listen_metrics

        try:
            port, _registry = listen_metrics(reactor, server, config)
        except Exception as e:
            log.error("Cannot start /metrics server on %s:%d: %s", config.metrics_http_host,
                      config.metrics_http_port, e)
            return 1
        reactor.addSystemEventTrigger("before", "shutdown", port.stopListening)
        log.info("Prometheus metrics serving on http://%s:%d/metrics", config.metrics_http_host or "0.0.0.0",
                 port.getHost().port)
    return 0


def _open_durable(config, reactor, log, exit_code):
    """Recover the data dir (snapshot + logs), then serve from it with a durable log."""
    from zkcompat.core.server import ZooKeeperServer
    from zkcompat.net.client_port import ReactorClock
    from zkcompat.net.durable import DurableTxnLog
    from zkcompat.storage import datadir
    from zkcompat.storage.errors import StorageError

    try:
        result = datadir.load(config.data_dir, config.data_log_dir, extended_types=config.extended_types,
                              repair_torn_tails=True)
    except StorageError as e:
        log.error("cannot load the data dir: %s", e)
        return None, None
    report = result.report
    for problem in report.problems:
        log.warning("data dir: %s", problem)
    log.info("loaded %s: snapshot 0x%x + %d txns, last zxid 0x%x, %d sessions", config.data_dir,
             report.snapshot_zxid, report.txns_applied, result.last_zxid, len(result.sessions))

    def fatal(error):
        exit_code[0] = 1
        if reactor.running:
            reactor.stop()

    durable = DurableTxnLog(reactor, config.data_dir, config.data_log_dir, force_sync=config.force_sync,
                            snap_count=config.snap_count, snap_retain_count=config.autopurge_snap_retain_count,
                            on_fatal=fatal)
    server = ZooKeeperServer(config, ReactorClock(reactor), txn_log=durable)
    server.restore(result.tree, result.sessions)
    durable.after_batch = server.flush
    durable.snapshot_source = lambda: (server.tree, server.session_timeouts())
    durable.take_snapshot(sync=True)  # ZooKeeper starts from a clean snapshot too
    hours = config.autopurge_purge_interval_hours
    if hours > 0:
        from twisted.internet.task import LoopingCall

        LoopingCall(durable.purge).start(hours * 3600, now=True)
    return server, durable


def _listen_secure(config, server, reactor, log):
    """Open the TLS client port (secureClientPort); None after logging why it cannot be."""
    from zkcompat.net.client_port import ClientFactory
    from zkcompat.net.tls import TlsConfigError, listen_secure

    try:
        secure = listen_secure(reactor, config, ClientFactory(server))
    except TlsConfigError as e:
        log.error("secure client port: %s", e)
        return None
    except Exception as e:  # CannotListenError and friends
        log.error("cannot listen on %s:%s: %s", config.secure_client_port_address or "*", config.secure_client_port, e)
        return None
    config.secure_client_port = secure.getHost().port
    log.info("zkcompat %s serving TLS (ssl.clientAuth=%s) on %s:%d", __version__, config.ssl_client_auth,
             config.secure_client_port_address or "0.0.0.0", config.secure_client_port)
    return secure


def _start_member(config, args, reactor, log, host, port, sid=None):
    from zkcompat.net.member import start_member

    if sid is None:
        sid = getattr(args, "server_id", None)
    if sid is None and config.data_dir:
        from zkcompat.storage import datadir

        sid = datadir.read_myid(config.data_dir)
    if sid is None or sid not in config.servers:
        log.error("this server's id (--server-id or dataDir/myid) must be one of the server.N lines: %s",
                  sorted(config.servers))
        return None
    me = config.servers[sid]
    if me.client_port is not None and getattr(args, "port", None) is None:
        port = me.client_port
        host = me.client_host or host
    durable = bool(not getattr(args, "in_memory", True) and config.data_dir)

    def before_start(server, peer) -> bool:
        """The TLS client port and the HTTP endpoints, once the member's own ports listen."""
        if config.secure_client_port is not None and _listen_secure(config, server, reactor, log) is None:
            return False
        return not _start_http(config, reactor, log, server, peer=peer, admin_fatal=False)

    return start_member(config, reactor, sid, durable=durable, host=host, port=port, before_start=before_start)


def _ensemble(args) -> int:
    """zkcompat ensemble: N members (and observers) in this process, on loopback ports bound before they start."""
    from zkcompat import logs

    logs.setup(args.log_level, args.log_format)
    from twisted.internet import reactor

    from zkcompat.net.member import held_listen, hold_ensemble_ports, local_member_config, local_servers, start_member

    held = hold_ensemble_ports(args.size + args.observers)
    servers = local_servers(held, args.size)
    members = []
    for sid in servers:
        # one process, many members: no AdminServer (they would all want port 8080)
        config = local_member_config(servers, sid, tick_time_ms=args.tick_time, admin_enable_server=False)
        member = start_member(config, reactor, sid, durable=False, host="127.0.0.1",
                              listen=held_listen(reactor, held[sid]))
        if member is None:
            return 1
        members.append(member)
    hosts = ",".join("127.0.0.1:%d" % q.client_port for q in servers.values())
    sys.stdout.write(hosts + "\n")
    sys.stdout.flush()
    for m in members:
        reactor.addSystemEventTrigger("before", "shutdown", m.stop)
    reactor.run()
    return 0
