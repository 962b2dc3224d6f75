"""Every jute record of ZooKeeper's client protocol, transaction log and quorum.

One declaration per class of zookeeper.jute (ZooKeeper 3.9), in its order, jute
names kept and fields snake_cased.  See protocol.jute for what a declaration
generates.  ConnectRequest/ConnectResponse are declared without their trailing
``readOnly`` boolean: it is optional on the wire (3.3-era clients omit it), so
protocol.messages reads and writes it beside the record, as ZooKeeper does.
"""

from __future__ import annotations

from .jute import Bool, Buffer, Int, Long, Nested, UString, Vector, record

# module org.apache.zookeeper.data
Id = record("Id", "scheme" / UString, "id" / UString)
ACL = record("ACL", "perms" / Int, "id" / Nested(Id))
Stat = record(
    "Stat",
    "czxid" / Long,
    "mzxid" / Long,
    "ctime" / Long,
    "mtime" / Long,
    "version" / Int,
    "cversion" / Int,
    "aversion" / Int,
    "ephemeral_owner" / Long,
    "data_length" / Int,
    "num_children" / Int,
    "pzxid" / Long,
)
StatPersisted = record(
    "StatPersisted",
    "czxid" / Long,
    "mzxid" / Long,
    "ctime" / Long,
    "mtime" / Long,
    "version" / Int,
    "cversion" / Int,
    "aversion" / Int,
    "ephemeral_owner" / Long,
    "pzxid" / Long,
)
ClientInfo = record("ClientInfo", "auth_scheme" / UString, "user" / UString)

# module org.apache.zookeeper.proto
ConnectRequest = record(
    "ConnectRequest",
    "protocol_version" / Int,
    "last_zxid_seen" / Long,
    "time_out" / Int,
    "session_id" / Long,
    "passwd" / Buffer,
)
ConnectResponse = record(
    "ConnectResponse",
    "protocol_version" / Int,
    "time_out" / Int,
    "session_id" / Long,
    "passwd" / Buffer,
)
SetWatches = record(
    "SetWatches",
    "relative_zxid" / Long,
    "data_watches" / Vector(UString),
    "exist_watches" / Vector(UString),
    "child_watches" / Vector(UString),
)
SetWatches2 = record(
    "SetWatches2",
    "relative_zxid" / Long,
    "data_watches" / Vector(UString),
    "exist_watches" / Vector(UString),
    "child_watches" / Vector(UString),
    "persistent_watches" / Vector(UString),
    "persistent_recursive_watches" / Vector(UString),
)
RequestHeader = record("RequestHeader", "xid" / Int, "type" / Int)
MultiHeader = record("MultiHeader", "type" / Int, "done" / Bool, "err" / Int)
AuthPacket = record("AuthPacket", "type" / Int, "scheme" / UString, "auth" / Buffer)
ReplyHeader = record("ReplyHeader", "xid" / Int, "zxid" / Long, "err" / Int)
GetDataRequest = record("GetDataRequest", "path" / UString, "watch" / Bool)
SetDataRequest = record("SetDataRequest", "path" / UString, "data" / Buffer, "version" / Int)
ReconfigRequest = record(
    "ReconfigRequest",
    "joining_servers" / UString,
    "leaving_servers" / UString,
    "new_members" / UString,
    "cur_config_id" / Long,
)
SetDataResponse = record("SetDataResponse", "stat" / Nested(Stat))
GetSASLRequest = record("GetSASLRequest", "token" / Buffer)
SetSASLRequest = record("SetSASLRequest", "token" / Buffer)
SetSASLResponse = record("SetSASLResponse", "token" / Buffer)
CreateRequest = record(
    "CreateRequest",
    "path" / UString,
    "data" / Buffer,
    "acl" / Vector(Nested(ACL)),
    "flags" / Int,
)
CreateTTLRequest = record(
    "CreateTTLRequest",
    "path" / UString,
    "data" / Buffer,
    "acl" / Vector(Nested(ACL)),
    "flags" / Int,
    "ttl" / Long,
)
DeleteRequest = record("DeleteRequest", "path" / UString, "version" / Int)
GetChildrenRequest = record("GetChildrenRequest", "path" / UString, "watch" / Bool)
GetAllChildrenNumberRequest = record("GetAllChildrenNumberRequest", "path" / UString)
GetChildren2Request = record("GetChildren2Request", "path" / UString, "watch" / Bool)
CheckVersionRequest = record("CheckVersionRequest", "path" / UString, "version" / Int)
GetMaxChildrenRequest = record("GetMaxChildrenRequest", "path" / UString)
GetMaxChildrenResponse = record("GetMaxChildrenResponse", "max" / Int)
SetMaxChildrenRequest = record("SetMaxChildrenRequest", "path" / UString, "max" / Int)
SyncRequest = record("SyncRequest", "path" / UString)
SyncResponse = record("SyncResponse", "path" / UString)
GetACLRequest = record("GetACLRequest", "path" / UString)
SetACLRequest = record("SetACLRequest", "path" / UString, "acl" / Vector(Nested(ACL)), "version" / Int)
SetACLResponse = record("SetACLResponse", "stat" / Nested(Stat))
AddWatchRequest = record("AddWatchRequest", "path" / UString, "mode" / Int)
WatcherEvent = record("WatcherEvent", "type" / Int, "state" / Int, "path" / UString)
ErrorResponse = record("ErrorResponse", "err" / Int)
CreateResponse = record("CreateResponse", "path" / UString)
Create2Response = record("Create2Response", "path" / UString, "stat" / Nested(Stat))
ExistsRequest = record("ExistsRequest", "path" / UString, "watch" / Bool)
ExistsResponse = record("ExistsResponse", "stat" / Nested(Stat))
GetDataResponse = record("GetDataResponse", "data" / Buffer, "stat" / Nested(Stat))
GetChildrenResponse = record("GetChildrenResponse", "children" / Vector(UString))
GetAllChildrenNumberResponse = record("GetAllChildrenNumberResponse", "total_number" / Int)
GetChildren2Response = record("GetChildren2Response", "children" / Vector(UString), "stat" / Nested(Stat))
GetACLResponse = record("GetACLResponse", "acl" / Vector(Nested(ACL)), "stat" / Nested(Stat))
CheckWatchesRequest = record("CheckWatchesRequest", "path" / UString, "type" / Int)
RemoveWatchesRequest = record("RemoveWatchesRequest", "path" / UString, "type" / Int)
GetEphemeralsRequest = record("GetEphemeralsRequest", "prefix_path" / UString)
GetEphemeralsResponse = record("GetEphemeralsResponse", "ephemerals" / Vector(UString))
WhoAmIResponse = record("WhoAmIResponse", "client_info" / Vector(Nested(ClientInfo)))

# module org.apache.zookeeper.server.quorum
LearnerInfo = record("LearnerInfo", "serverid" / Long, "protocol_version" / Int, "config_version" / Long)
QuorumPacket = record(
    "QuorumPacket",
    "type" / Int,
    "zxid" / Long,
    "data" / Buffer,
    "authinfo" / Vector(Nested(Id)),
)
QuorumAuthPacket = record("QuorumAuthPacket", "magic" / Long, "status" / Int, "token" / Buffer)

# module org.apache.zookeeper.server.persistence
FileHeader = record("FileHeader", "magic" / Int, "version" / Int, "dbid" / Long)

# module org.apache.zookeeper.txn
TxnDigest = record("TxnDigest", "version" / Int, "tree_digest" / Long)
TxnHeader = record(
    "TxnHeader",
    "client_id" / Long,
    "cxid" / Int,
    "zxid" / Long,
    "time" / Long,
    "type" / Int,
)
CreateTxnV0 = record(
    "CreateTxnV0",
    "path" / UString,
    "data" / Buffer,
    "acl" / Vector(Nested(ACL)),
    "ephemeral" / Bool,
)
CreateTxn = record(
    "CreateTxn",
    "path" / UString,
    "data" / Buffer,
    "acl" / Vector(Nested(ACL)),
    "ephemeral" / Bool,
    "parent_c_version" / Int,
)
CreateTTLTxn = record(
    "CreateTTLTxn",
    "path" / UString,
    "data" / Buffer,
    "acl" / Vector(Nested(ACL)),
    "parent_c_version" / Int,
    "ttl" / Long,
)
CreateContainerTxn = record(
    "CreateContainerTxn",
    "path" / UString,
    "data" / Buffer,
    "acl" / Vector(Nested(ACL)),
    "parent_c_version" / Int,
)
DeleteTxn = record("DeleteTxn", "path" / UString)
SetDataTxn = record("SetDataTxn", "path" / UString, "data" / Buffer, "version" / Int)
CheckVersionTxn = record("CheckVersionTxn", "path" / UString, "version" / Int)
SetACLTxn = record("SetACLTxn", "path" / UString, "acl" / Vector(Nested(ACL)), "version" / Int)
SetMaxChildrenTxn = record("SetMaxChildrenTxn", "path" / UString, "max" / Int)
CreateSessionTxn = record("CreateSessionTxn", "time_out" / Int)
CloseSessionTxn = record("CloseSessionTxn", "paths2_delete" / Vector(UString))
ErrorTxn = record("ErrorTxn", "err" / Int)
Txn = record("Txn", "type" / Int, "data" / Buffer)
MultiTxn = record("MultiTxn", "txns" / Vector(Nested(Txn)))

ALL_RECORDS = tuple(v for v in list(globals().values()) if isinstance(v, type) and hasattr(v, "construct") and v.__module__ == __name__)
