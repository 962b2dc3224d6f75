"""Watches: which connection hears about which change (ZooKeeper's WatchManager).

A DataTree has two managers, one for data watches (set by exists/getData) and
one for child watches (set by getChildren).  A watcher is a connection: watches
belong to connections, not sessions, and vanish with the connection (clients
re-register them with setWatches on reconnect).

Rules kept from org.apache.zookeeper.server.watch.WatchManager (3.8):
- one entry per (watcher, path) per manager, whatever the number of requests;
- a (watcher, path) pair has one mode: standard (one-shot), persistent or
  persistent-recursive.  Setting a standard watch on a pair that had a
  persistent mode resets it to standard (WatcherModeManager.setWatcherMode);
- ``trigger(path, type)`` walks the path and, when recursive watches exist,
  its ancestors: a recursive watcher on the path or an ancestor hears every
  event but NodeChildrenChanged; a standard or persistent watcher hears only
  events on its own path; standard watches are removed as they fire;
- a connection stays counted as "watching" (wchs) once it set a watch, until it
  closes, as in ZooKeeper's watch2Paths;
- each watcher hears one event per trigger; ``suppress`` skips watchers already
  told (a delete sends NodeDeleted once even with data and child watches).
Delivery goes through ``deliver(watcher, event_type, path, acl)``; the acl is
the znode's, so the connection can filter by READ permission (ZOOKEEPER-4799).
"""

from __future__ import annotations

from typing import Callable

from .javahash import JavaHashSet

STANDARD = 0
PERSISTENT = 1
PERSISTENT_RECURSIVE = 2


def path_and_parents(path: str):
    """PathParentIterator.forAll: the path, then each ancestor up to '/'."""
    while path:
        yield path
        if path == "/":
            return
        cut = path.rfind("/")
        path = path[:cut] if cut > 0 else "/"


class WatchManager:
    __slots__ = ("table", "by_watcher", "modes", "recursive_count", "deliver")

    def __init__(self, deliver: Callable):
        self.table: dict[str, dict] = {}  # path -> {watcher: None}, insertion ordered
        self.by_watcher: dict = {}  # watcher -> JavaHashSet of paths (wchc lists them in Java's order)
        self.modes: dict = {}  # (watcher, path) -> PERSISTENT | PERSISTENT_RECURSIVE
        self.recursive_count = 0
        self.deliver = deliver

    def add(self, path: str, watcher, mode: int = STANDARD) -> bool:
        watchers = self.table.get(path)
        if watchers is None:
            watchers = self.table[path] = {}
        watchers[watcher] = None
        paths = self.by_watcher.get(watcher)
        if paths is None:
            paths = self.by_watcher[watcher] = JavaHashSet(16)
        key = (watcher, path)
        old = self.modes.pop(key, STANDARD)
        if mode != STANDARD:
            self.modes[key] = mode
        if (old == PERSISTENT_RECURSIVE) != (mode == PERSISTENT_RECURSIVE):
            self.recursive_count += 1 if mode == PERSISTENT_RECURSIVE else -1
        return paths.add(path)

    def _forget_mode(self, watcher, path: str) -> None:
        old = self.modes.pop((watcher, path), STANDARD)
        if old == PERSISTENT_RECURSIVE:
            self.recursive_count -= 1

    def remove_watcher(self, watcher) -> None:
        """A connection closed: drop all its watches."""
        paths = self.by_watcher.pop(watcher, None)
        if not paths:
            return
        for p in paths:
            watchers = self.table.get(p)
            if watchers is not None:
                watchers.pop(watcher, None)
                if not watchers:
                    del self.table[p]
            self._forget_mode(watcher, p)

    def remove(self, path: str, watcher) -> bool:
        """removeWatches for one (path, watcher): False if it had none."""
        paths = self.by_watcher.get(watcher)
        if paths is None or not paths.discard(path):
            return False
        watchers = self.table.get(path)
        if watchers is None or watcher not in watchers:
            return False
        del watchers[watcher]
        if not watchers:
            del self.table[path]
        self._forget_mode(watcher, path)
        return True

    def contains(self, path: str, watcher) -> bool:
        """WatchManager.containsWatcher, faithfully: any watcher on the path itself counts."""
        recursive = self.modes.get((watcher, path)) == PERSISTENT_RECURSIVE
        for i, p in enumerate(path_and_parents(path) if self.recursive_count else (path,)):
            if i == 0 and self.table.get(p) is not None:
                return True
            if recursive:
                return True
        return False

    def trigger(self, path: str, event_type: int, acl, suppress=None):
        """Fire ``event_type`` on ``path``; returns the watchers told (for ``suppress``)."""
        table = self.table
        if self.recursive_count == 0:
            watchers = table.get(path)
            if not watchers:
                return None
            fired = list(watchers)
            modes = self.modes
            for w in fired:
                if (w, path) not in modes:
                    del watchers[w]
                    paths = self.by_watcher.get(w)
                    if paths is not None:
                        paths.discard(path)
            if not watchers:
                del table[path]
        else:
            fired_set: dict = {}
            modes = self.modes
            for level, p in enumerate(path_and_parents(path)):
                watchers = table.get(p)
                if not watchers:
                    continue
                for w in list(watchers):
                    mode = modes.get((w, p), STANDARD)
                    if mode == PERSISTENT_RECURSIVE:
                        if event_type != 4:  # NodeChildrenChanged never reaches recursive watchers
                            fired_set[w] = None
                    elif level == 0:
                        fired_set[w] = None
                        if mode == STANDARD:
                            del watchers[w]
                            paths = self.by_watcher.get(w)
                            if paths is not None:
                                paths.discard(p)
                if not watchers:
                    del table[p]
            if not fired_set:
                return None
            fired = list(fired_set)
        deliver = self.deliver
        for w in fired:
            if suppress is not None and w in suppress:
                continue
            deliver(w, event_type, path, acl)
        return fired

    # introspection for 4lw (wchs/wchc/wchp) and mntr
    def watch_count(self) -> int:
        return sum(len(p) for p in self.by_watcher.values())

    def path_count(self) -> int:
        return len(self.table)
