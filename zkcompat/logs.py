"""Log output of ``zkcompat serve`` and ``zkcompat ensemble``: one line per event on stderr.

``text`` (the default) reads like ZooKeeper's log4j lines; ``json`` writes one JSON object per
line for log shippers: ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``,
``thread``, ``message`` and, when a message names a session as ZooKeeper does (``0x`` and the id
in hex), ``session``; a traceback goes in ``exception``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

TEXT_FORMAT = "%(asctime)s [%(levelname)s] %(name)s: %(message)s"
_SESSION = re.compile(r"[Ss]ession(?:id| id)?:? (0x[0-9a-f]{1,16})\b")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        out = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + ".%03dZ" % int(record.msecs),
            "level": record.levelname,
            "logger": record.name,
            "thread": record.threadName,
            "message": message,
        }
        m = _SESSION.search(message)
        if m is not None:
            out["session"] = m.group(1)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level))
