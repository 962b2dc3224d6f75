"""The AdminServer on HTTP: ZooKeeper's ``/commands/<name>`` JSON API, served by twisted.web.

ZooKeeper 3.8 runs it in Jetty (JettyAdminServer) on ``admin.serverAddress`` :
``admin.serverPort`` (0.0.0.0:8080) under ``admin.commandURL`` (/commands).
This is the thin edge only: the answers are computed by zkcompat.core.admin on
the reactor thread, where the core lives, so no locking is needed.

What the HTTP side keeps from Jetty's servlet (checked against ZooKeeper 3.8):
GET <commandURL> or <commandURL>/ lists the commands as links; GET
<commandURL>/<name>?key=value runs a command with its query arguments and
answers ``application/json`` with status 200, also for an unknown command or a
command error (the error is in the JSON); any other path is a 404.  A failure
inside a command is logged and answered as that command's error, never a
traceback page.
"""

from __future__ import annotations

import logging

from twisted.web import resource, server

from zkcompat.core import admin

log = logging.getLogger("zkcompat.admin")


class AdminResource(resource.Resource):
    isLeaf = True

    def __init__(self, zk_server, command_url: str = "/commands", peer=None):
        super().__init__()
        self.zk_server = zk_server
        self.peer = peer
        url = "/" + command_url.strip("/")
        self.command_url = url.encode("utf-8")

    def render_GET(self, request):
        path = request.path
        base = self.command_url
        if path in (base, base + b"/") or (base == b"/" and path == b"/"):
            request.defaultContentType = None  # Jetty's command list carries no Content-Type
            return admin.command_index(base.decode()).encode("utf-8")
        prefix = base if base.endswith(b"/") else base + b"/"
        if not path.startswith(prefix):
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"Not Found\n"
        name = path[len(prefix):].decode("utf-8", "replace")
        kwargs = {k.decode("utf-8", "replace"): v[0].decode("utf-8", "replace")
                  for k, v in (request.args or {}).items() if v}
        try:
            answer = admin.run_command(self.zk_server, name, kwargs, peer=self.peer)
        except Exception as e:  # a bug in one command must not take the endpoint down
            log.exception("admin command %r failed", name)
            answer = {"command": name, "error": "%s: %s" % (type(e).__name__, e)}
        request.setHeader(b"content-type", b"application/json")
        return admin.render_json(answer).encode("utf-8")


def listen_admin(reactor, zk_server, config, peer=None, port: int | None = None, host: str | None = None):
    """Listen for the AdminServer as zoo.cfg's admin.* keys say; returns the listening port."""
    site = server.Site(AdminResource(zk_server, config.admin_command_url, peer))
    site.displayTracebacks = False
    site.noisy = False
    site.log = lambda request: None  # no access log (Jetty's is off by default too)
    port = config.admin_server_port if port is None else port
    host = config.admin_server_address if host is None else host
    return reactor.listenTCP(port, site, interface=host)
