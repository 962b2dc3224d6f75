"""The durable log: group commit to ZooKeeper's log files, snapshots, off the reactor thread.

Theory of operation
-------------------
The core hands every txn to ``DurableTxnLog.append(hdr, txn, done)`` in zxid
order.  Txns queue for a single log thread, which takes everything queued,
appends the records to the current ``log.<zxid>`` file and fsyncs it
(fdatasync; skipped with forceSync=no).  While that fsync runs, new txns queue
up: one fsync covers every txn that arrived meanwhile (group commit,
ZooKeeper's SyncRequestProcessor).  The next batch starts as soon as the reactor
has begun to take the previous one's completions: when the reactor is idle that
is at once (one client waiting on each reply pays one fsync), and when it is
busy, txns pile up meanwhile into one bigger group commit instead of many small
syncs whose hand-overs would cost the busy reactor time (with 32 clients each
waiting on its reply: 16 txns per fsync instead of 3.4, 30-40% more writes/s).  The reactor is then handed
the batch, and ``done()`` is called for each of its txns, in order; only then
does the core apply them and reply.  So no reply ever reveals a txn that is not
on disk, and the reactor never waits for the disk.

Snapshots follow ZooKeeper's rule: after ``snapCount/2 + random(snapCount/2)``
logged txns the log rolls to a new file and the tree is saved as
``snapshot.<last applied zxid>``, unless the previous snapshot is still being
written: then that snapshot is skipped ("Too busy to snap"), the log rolls all
the same and the count starts again.  Where the platform can fork, a child process
serialises and writes the tree: fork gives it a copy-on-write image of the tree
at that zxid (consistent, not even fuzzy), so the reactor keeps serving while
the other core does the work (under SCHED_IDLE, so that it only takes CPU time
the serving threads and their clients leave); the child dies with its parent (PR_SET_PDEATHSIG)
so that no orphan renames a snapshot into a data dir after a crash, and a
snapshot thread waits for it.  Elsewhere the tree is serialised on the reactor
thread and written by the snapshot thread.  Txns after the snapshot are in the
logs, which recovery replays.  ``autopurge.snapRetainCount`` old
snapshots and the logs they need are kept when autopurge runs (every
``autopurge.purgeInterval`` hours; never by default, as in ZooKeeper).

A write that fails (disk full, I/O error) is unrecoverable, as in ZooKeeper:
the txns of that batch are never acknowledged and the server stops.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Callable

from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from zkcompat.net import gcpolicy
from zkcompat.storage import datadir
from zkcompat.storage.snapshot import (
    publish_snapshot,
    save_snapshot_bytes,
    snapshot_bytes,
    snapshot_name,
    write_tree_snapshot_tmp,
)
from zkcompat.storage.txnlog import TxnLogWriter, marshal_entry

log = logging.getLogger("zkcompat.storage")

BATCH_TXNS_MAX = 1000  # SyncRequestProcessor flushes at least every 1000 txns


class DurableTxnLog:
    def __init__(
        self,
        reactor,
        data_dir,
        data_log_dir=None,
        *,
        force_sync: bool = True,
        snap_count: int = 100000,
        snap_retain_count: int = 3,
        rng: random.Random | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
    ):
        self.reactor = reactor
        self.data_dir = Path(data_dir)
        self.data_log_dir = Path(data_log_dir) if data_log_dir else self.data_dir
        self.snap_dir = datadir.snap_dir(self.data_dir)
        self.writer = TxnLogWriter(datadir.log_dir(self.data_log_dir), sync_dir=force_sync)
        self.force_sync = force_sync
        self.snap_count = max(2, snap_count)
        self.snap_retain_count = max(3, snap_retain_count)
        # the child writer needs fork and Linux's PR_SET_PDEATHSIG
        self.fork_snapshots = hasattr(os, "fork") and sys.platform.startswith("linux")
        self.rng = rng or random.Random()
        self.on_fatal = on_fatal
        self.after_batch: Callable[[], None] | None = None
        self.snapshot_source: Callable[[], tuple] | None = None  # -> (tree, sessions dict)
        # txns (and truncations) queued for the log thread, and the flags below, guarded by _lock
        self._queue: list[tuple[bytes | None, int, Callable[[], None] | None]] = []
        self._lock = threading.Lock()  # entered directly on the reactor's per-txn path (a C call)
        # the idle log thread blocks acquiring _bell; whoever gives it work while it is idle releases
        # it, once (a C call, where Condition.notify runs a dozen lines of Python per txn)
        self._bell = threading.Lock()
        self._bell.acquire()
        self._roll_requested = False
        self._failed = False
        self._closed = False
        self._idle = False  # the log thread waits on _bell for work
        self._handed_over = False  # a written batch waits for the reactor to run its completions
        self._txns_since_snap = 0
        self._snap_threshold = self._roll_threshold()
        self._snapshot_running = False
        self._thread = threading.Thread(target=self._log_thread, name="zkcompat-log", daemon=True)
        self._thread.start()
        # snapshots and purges are written by their own thread so that the log never waits for them
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="zkcompat-snapshot")
        self._pool.start()
        self.fsyncs = 0
        self.txns_written = 0

    def _roll_threshold(self) -> int:
        return self.snap_count // 2 + self.rng.randrange(self.snap_count // 2)

    # --- the TxnLog seam (reactor thread) ------------------------------------------------

    def append(self, hdr, txn, done: Callable[[], None], entry: bytes | None = None) -> None:
        if self._failed or self._closed:
            return  # never acknowledged: the server is stopping
        if entry is None:
            entry = marshal_entry(hdr, txn)
        self._txns_since_snap += 1
        # SyncRequestProcessor: past the threshold the count restarts and the log rolls, whether
        # or not a snapshot is still being written (then that one is skipped, see _batch_written)
        roll = self._txns_since_snap > self._snap_threshold
        if roll:
            self._txns_since_snap = 0
            self._snap_threshold = self._roll_threshold()
        with self._lock:
            self._queue.append((entry, hdr.zxid, done))
            if roll:
                self._roll_requested = True
            if self._idle:  # the log thread waits: wake it (it looks at the queue after each write anyway)
                self._idle = False
                self._bell.release()

    def _ring(self) -> None:
        """Wake the log thread if it waits for work (with _lock held)."""
        if self._idle:
            self._idle = False
            self._bell.release()

    def truncate(self, zxid: int) -> None:
        """Zab's TRUNC: drop logged txns after ``zxid``, after every write queued before it."""
        with self._lock:
            self._queue.append((None, zxid, None))
            self._ring()

    # --- the log thread ------------------------------------------------------------------

    def _log_thread(self) -> None:
        """Write and sync whatever is queued, as soon as the previous sync is done.

        The next batch starts right after an fsync returns, without a round trip through
        the reactor; completions are handed back to the reactor in batch order.
        """
        lock = self._lock
        while True:
            with lock:
                # the next sync waits until the reactor has taken the last one's completions: while
                # it is busy, txns pile up into one bigger group commit instead of many small ones
                if (not self._queue or self._handed_over) and not self._closed:
                    self._idle = True  # the next one to change what this waits for rings, once
                    batch = None
                elif not self._queue:
                    return  # closed, and everything queued is written
                else:
                    batch = self._queue[:BATCH_TXNS_MAX]
                    del self._queue[:BATCH_TXNS_MAX]
                    roll, self._roll_requested = self._roll_requested, False
            if batch is None:
                self._bell.acquire()
                continue
            try:
                self._write(batch, roll)
            except BaseException as e:  # noqa: BLE001 - any failure of the disk is fatal
                self._failed = True
                self.reactor.callFromThread(self._batch_failed, e)
                return
            with lock:
                self._handed_over = True
            self.reactor.callFromThread(self._batch_written, batch, roll)

    def _write(self, batch, roll: bool) -> None:  # log thread
        writer = self.writer
        run: list[tuple[bytes, int]] = []  # the entries since the last truncation, written at once
        for entry, zxid, _ in batch:
            if entry is None:  # a truncation, in its place among the writes
                writer.append_entries(run)
                run = []
                self._truncate_now(zxid)
                continue
            run.append((entry, zxid))
        writer.append_entries(run)
        writer.commit(sync=self.force_sync)
        if roll:
            writer.roll()

    # --- completions (reactor thread) ------------------------------------------------------

    def _batch_written(self, batch, roll: bool) -> None:
        with self._lock:
            self._handed_over = False
            if self._queue:
                self._ring()
        self.fsyncs += 1
        self.txns_written += len(batch)
        for _, _, done in batch:
            if done is not None:
                done()
        if roll:
            if self._snapshot_running:
                log.warning("Too busy to snap, skipping")
            else:
                self.take_snapshot()
        if self.after_batch is not None:
            self.after_batch()

    def _batch_failed(self, error: BaseException) -> None:
        self._failed = True
        log.critical("Severe unrecoverable error writing the transaction log, stopping: %s", error)
        if self.on_fatal is not None:
            self.on_fatal(error)

    def _truncate_now(self, zxid: int) -> None:  # worker thread
        from zkcompat.storage.errors import StorageError
        from zkcompat.storage.txnlog import truncate_log

        self.writer.close()
        try:
            truncate_log(self.writer.log_dir, zxid)
        except StorageError:
            pass  # no log file at all: nothing to cut
        self.writer.last_zxid = zxid if zxid > 0 else None

    # --- snapshots ---------------------------------------------------------------------------

    def take_snapshot(self, sync: bool = False):
        """Save the tree as it is now; the file is written off the reactor thread unless ``sync``."""
        if self.snapshot_source is None:
            return None
        tree, sessions = self.snapshot_source()
        zxid = tree.last_processed_zxid
        if not sync and self.fork_snapshots:
            pid = _fork_snapshot_writer(self.snap_dir, tree, sessions, zxid)
            self._snapshot_running = True
            d = deferToThreadPool(self.reactor, self._pool, _wait_snapshot_writer, pid,
                                  Path(self.snap_dir) / snapshot_name(zxid))
        else:
            data = snapshot_bytes(tree, sessions, zxid)
            if sync:
                return save_snapshot_bytes(self.snap_dir, zxid, data)
            self._snapshot_running = True
            d = deferToThreadPool(self.reactor, self._pool, save_snapshot_bytes, self.snap_dir, zxid, data)

        def done(path):
            self._snapshot_running = False
            log.info("Snapshot taken: %s", path)

        def failed(f):
            self._snapshot_running = False
            log.error("Snapshot failed: %s", f.getErrorMessage())

        d.addCallbacks(done, failed)
        return d

    def purge(self):
        """autopurge: drop snapshots beyond snapRetainCount and the logs only they needed."""
        return deferToThreadPool(self.reactor, self._pool, datadir.purge, self.snap_dir,
                                 datadir.log_dir(self.data_log_dir), self.snap_retain_count)

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Write and sync what is queued, then stop the threads (called while the server stops)."""
        if self._closed:
            return
        with self._lock:
            self._closed = True
            queued = len(self._queue)
            self._ring()
        self._thread.join()
        self._pool.stop()  # waits for a snapshot being written
        if self._failed and queued:
            log.error("could not write the last %d txns at shutdown", queued)
        self.writer.close()
        if self.fsyncs:
            log.info("txn log closed: %d txns in %d group commits (%.1f per %s)", self.txns_written, self.fsyncs,
                     self.txns_written / self.fsyncs, "fsync" if self.force_sync else "flush")


def _fork_snapshot_writer(snap_dir, tree, sessions: dict, zxid: int) -> int:
    """Fork a child that writes ``snapshot.<zxid>`` from its copy-on-write image and exits."""
    parent = os.getpid()
    gc.freeze()  # objects the child inherits are not revisited by its collector (fewer pages copied)
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns about fork in a threaded process; the child runs no code that
            # another thread could have left locked (no logging, no log file, no reactor)
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    finally:
        if not gcpolicy.installed():
            gc.unfreeze()  # a serving process keeps it frozen (zkcompat.net.gcpolicy)
    if pid:
        return pid
    code = 1
    try:
        gc.disable()
        # the writer takes only CPU time that nothing else wants: otherwise it competes with the
        # reactor for a core (the reactor then waited for a CPU 15-20% of the time under a create
        # load; 5% with this), and a server's clients come before its snapshot
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except (AttributeError, OSError):  # not allowed here (a seccomp profile): at normal priority
            pass
        _die_with(parent)
        os.closerange(3, _fd_limit())  # hold no socket or log file of the server's open
        # written, not synced: the snapshot thread syncs and renames it once this process is gone
        # (while it lives, each page the server writes to is copied: the shorter, the cheaper)
        write_tree_snapshot_tmp(snap_dir, tree, sessions, zxid)
        code = 0
    except BaseException as e:  # noqa: BLE001 - report, then leave without running the server's cleanup
        try:
            os.write(2, ("snapshot writer: %r\n" % (e,)).encode())
        except OSError:
            pass
    finally:
        os._exit(code)


def _fd_limit() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        return 65536


def _die_with(parent: int) -> None:
    """The calling (child) process gets SIGKILL when its parent dies; exits if it already has."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    if libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:
        os._exit(1)


def _wait_snapshot_writer(pid: int, path: Path) -> Path:  # snapshot thread
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise OSError("the snapshot writer (pid %d) exited with %d; %s not written" % (pid, code, path))
    return publish_snapshot(path.with_name(path.name + ".tmp"))


class DurablePeerStore:
    """An ensemble member's disk: its log (a DurableTxnLog), snapshots, and epoch files."""

    def __init__(self, durable: DurableTxnLog, data_dir):
        self.durable = durable
        self.data_dir = Path(data_dir)
        self.accepted_epoch = datadir.read_epoch(self.data_dir, "acceptedEpoch") or 0
        self.current_epoch = datadir.read_epoch(self.data_dir, "currentEpoch") or 0

    def save_epochs(self, accepted: int, current: int) -> None:
        if accepted != self.accepted_epoch:
            datadir.write_epoch(self.data_dir, "acceptedEpoch", accepted)
            self.accepted_epoch = accepted
        if current != self.current_epoch:
            datadir.write_epoch(self.data_dir, "currentEpoch", current)
            self.current_epoch = current

    def log_append(self, hdr, txn, done) -> None:
        self.durable.append(hdr, txn, done)

    def log_truncate(self, zxid: int) -> None:
        self.durable.truncate(zxid)

    def save_snapshot(self, tree, sessions: dict, zxid: int) -> None:
        """A SNAP from the leader: the log is cut to it and the tree saved (before we ACK)."""
        self.durable.truncate(zxid)
        save_snapshot_bytes(self.durable.snap_dir, zxid, snapshot_bytes(tree, sessions, zxid))
