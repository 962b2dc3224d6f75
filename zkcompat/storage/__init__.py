"""Apache ZooKeeper 3.8's on-disk formats: transaction logs, snapshots, data dirs.

Pure code over plain files (no threads, no reactor): the server decides when
to write, flush, sync, snapshot and load; this package only knows the bytes.
A data dir written by Apache ZooKeeper loads here node for node (stats, ACLs,
sessions, children order), and one written here starts Apache ZooKeeper.

- ``txnlog``:   log files (``log.<zxid>``): ``TxnLogWriter``, ``LogReader``,
  ``iter_txns``, ``truncate_log``;
- ``snapshot``: snapshot files (``snapshot.<zxid>``, plain, .gz, .snappy):
  ``write_snapshot``, ``save_snapshot``, ``read_snapshot``;
- ``datadir``:  layout, ``myid``/epoch files, and ``load`` (snapshot + replay);
- ``digest``:   ZooKeeper's tree digest (what 3.6+ writes into both);
- ``tools``:    ``inspect`` and ``verify`` for the CLI;
- ``errors``:   ``TornTail``, ``CorruptLog``, ``CorruptSnapshot``.
"""

from .errors import CorruptLog, CorruptSnapshot, LogError, StorageError, TornTail, UnsupportedSnapshot

__all__ = ["CorruptLog", "CorruptSnapshot", "LogError", "StorageError", "TornTail", "UnsupportedSnapshot"]
