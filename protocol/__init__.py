"""Sans-IO codec of ZooKeeper's jute wire protocol.

Imports neither Twisted nor zkcompat: records in, bytes out, and back.
``protocol.records`` declares every jute class once (with construct);
``protocol.messages`` assembles whole client messages; ``protocol.framing``
splits a byte stream into frames; ``protocol.codes`` holds ZooKeeper's numbers.
"""

from . import codes, framing, messages, records
from .codes import AddWatchMode, CreateMode, Err, EventType, KeeperState, OpCode, Perms, WatcherType, Xid
from .framing import FrameDecoder, FrameError, frame
from .jute import JuteError

__all__ = [
    "codes",
    "framing",
    "messages",
    "records",
    "AddWatchMode",
    "CreateMode",
    "Err",
    "EventType",
    "KeeperState",
    "OpCode",
    "Perms",
    "WatcherType",
    "Xid",
    "FrameDecoder",
    "FrameError",
    "frame",
    "JuteError",
]
