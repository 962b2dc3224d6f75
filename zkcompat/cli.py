"""The zkcompat command line: ``zkcompat serve`` runs a server as Apache ZooKeeper does."""

from __future__ import annotations

import argparse
import logging
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
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        from zkcompat.bench import main as bench_main

        return bench_main(argv[1:])
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
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
    if config.data_dir and not args.in_memory:
        log.warning("durable storage is not implemented yet: %s will not be written; data lives in memory",
                    config.data_dir)
    host = args.host if args.host is not None else (config.client_port_address or "")
    port = args.port if args.port is not None else config.client_port

    from twisted.internet import reactor

    from zkcompat.core.server import ZooKeeperServer
    from zkcompat.net.client_port import ClientFactory, ReactorClock

    server = ZooKeeperServer(config, ReactorClock(reactor))
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
    return 0
