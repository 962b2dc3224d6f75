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
                       help="print the bound client port on stdout once serving (useful with --port 0)")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                       help="log level on stderr (default INFO)")
    sub.add_parser("bench", help="load-test any ZooKeeper-protocol server", add_help=False)
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
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
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
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        stream=sys.stderr,
        format="%(asctime)s [%(levelname)s] %(name)s: %(message)s",
    )
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
    host = args.host if args.host is not None else (config.client_port_address or "")
    port = args.port if args.port is not None else config.client_port

    from twisted.internet import reactor

    from zkcompat.core.server import ZooKeeperServer
    from zkcompat.net.client_port import ClientFactory, ReactorClock

    exit_code = [0]
    durable = None
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
    if args.print_port:
        sys.stdout.write("%d\n" % bound)
        sys.stdout.flush()
    reactor.addSystemEventTrigger("before", "shutdown", server.stop)
    reactor.run()
    log.info("zkcompat stopped")
    return exit_code[0]


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
