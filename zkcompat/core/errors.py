"""ZooKeeper errors as values: a KeeperError carries the Err code sent to the client."""

from __future__ import annotations

from protocol.codes import Err


class KeeperError(Exception):
    """A ZooKeeper error answer (KeeperException): normal, not a bug."""

    __slots__ = ("code", "path")

    def __init__(self, code: Err | int, path: str | None = None):
        super().__init__(Err(code).name if code in Err._value2member_map_ else code, path)
        self.code = int(code)
        self.path = path


class MarshallingError(Exception):
    """A request body that did not decode (answered with MARSHALLINGERROR or a close)."""
