"""Java's String.hashCode, HashSet iteration order and java.util.Random, in Python.

Why: Apache ZooKeeper answers getChildren with ``new ArrayList(node.children)``
where ``children`` is a ``java.util.HashSet<String>``; getEphemerals and a
closing session's ephemeral deletions iterate HashSets too.  Clients see that
order.  To answer byte for byte as ZooKeeper does we reproduce it.

Theory of operation (java.util.HashMap, JDK 8+):
- a key's bucket is ``spread(hashCode) & (capacity - 1)`` with
  ``spread(h) = h ^ (h >>> 16)``;
- iteration walks buckets in index order and, inside a bucket, the chain in
  insertion order (a resize splits each chain into two, keeping relative order;
  a removed and re-added key goes to the end of its chain);
- the table doubles when, after an insertion, size exceeds 0.75 x capacity; it
  never shrinks.
So iteration order is ``sorted(keys, key=(bucket(key), insertion sequence))``.
Chains of 8+ keys in tables of 64+ buckets become trees in Java, which reorders
them; with String hashes at load <= 0.75 that needs hash collisions on purpose,
and we do not model it.

The session password is ``new java.util.Random(sessionId ^ 0xB3415C00L)
.nextBytes(16 bytes)`` (ZooKeeperServer.generatePasswd): any server of an
ensemble can check a reconnecting client's password without shared state.
"""

from __future__ import annotations

from operator import mul as _mul

_M32 = 0xFFFFFFFF


_POWERS: list[tuple[int, ...]] = [()]  # _POWERS[n][i] = 31 ** (n - 1 - i) mod 2**32


def _powers(n: int) -> tuple[int, ...]:
    while len(_POWERS) <= n:
        m = len(_POWERS)
        _POWERS.append(tuple(pow(31, m - 1 - i, 1 << 32) for i in range(m)))
    return _POWERS[n]


def java_string_hash(s: str) -> int:
    """String.hashCode() as an unsigned 32-bit value (over UTF-16 code units)."""
    if s.isascii():
        # s[0]*31^(n-1) + ... + s[n-1], mod 2**32: one C-level multiply-and-sum
        n = len(s)
        if n <= 256:
            powers = _POWERS[n] if n < len(_POWERS) else _powers(n)
            return sum(map(_mul, s.encode("ascii"), powers)) & _M32
        h = 0
        for ch in s.encode("ascii"):
            h = (31 * h + ch) & _M32
        return h
    h = 0
    for ch in s:
        o = ord(ch)
        if o > 0xFFFF:
            o -= 0x10000
            h = (31 * h + (0xD800 + (o >> 10))) & _M32
            h = (31 * h + (0xDC00 + (o & 0x3FF))) & _M32
        else:
            h = (31 * h + o) & _M32
    return h


def jute_id_hash(scheme_and_id: tuple[str, str]) -> int:
    """The jute-generated Id.hashCode(): 37 * (37 * 17 + scheme.hashCode()) + id.hashCode()."""
    scheme, ident = scheme_and_id
    return (37 * ((37 * 17 + java_string_hash(scheme)) & _M32) + java_string_hash(ident)) & _M32


def _table_size_for(cap: int) -> int:
    n = 1
    while n < cap:
        n <<= 1
    return n


_ABSENT = object()


class JavaHashSet:
    """A set of strings that iterates in the order java.util.HashSet<String> would.

    ``initial_capacity`` is the constructor argument Java code passes (16 by
    default); the table is allocated on first insertion, as HashMap does.

    One dict holds each key's spread hash, in insertion order (a key removed
    and added again goes to the end, as it does in its Java chain), so the
    Java order is a stable sort of the keys by bucket.  A key's hash is worked
    out when an order is first needed, not when it is added: a znode's name is
    hashed by the first getChildren of its parent or by a snapshot writer, off
    the path of the create that adds it.
    """

    __slots__ = ("_hashes", "_capacity", "_order", "_hash", "_unhashed")

    def __init__(self, initial_capacity: int = 16, items=(), hash_fn=None):
        self._hash = hash_fn or java_string_hash
        self._hashes: dict = {}  # key -> spread hash (None until an order needs it), in insertion order
        self._unhashed = False  # some key's hash is still None
        self._capacity = _table_size_for(max(initial_capacity, 1))
        self._order: list[str] | None = []
        for item in items:
            self.add(item)

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, key) -> bool:
        return key in self._hashes

    def __bool__(self) -> bool:
        return bool(self._hashes)

    def add(self, key) -> bool:
        hashes = self._hashes
        if key in hashes:
            return False
        hashes[key] = None
        self._unhashed = True
        if len(hashes) > self._capacity * 3 // 4:
            self._capacity *= 2
        self._order = None
        return True

    def discard(self, key) -> bool:
        if self._hashes.pop(key, _ABSENT) is _ABSENT:
            return False
        order = self._order
        if order is not None:
            if len(order) <= 64:
                order.remove(key)
            else:
                self._order = None
        return True

    def ordered(self) -> list:
        """The keys in Java iteration order (a cached list: do not modify it)."""
        order = self._order
        if order is None:
            mask = self._capacity - 1
            hashes = self._hashes
            if self._unhashed:
                java_hash = self._hash
                for key, h in hashes.items():  # (values change, the size does not)
                    if h is None:
                        h = java_hash(key)
                        hashes[key] = h ^ (h >> 16)
                self._unhashed = False
            keys = list(hashes)
            buckets = [h & mask for h in hashes.values()]
            # sorted() is stable: inside a bucket, keys stay in insertion order
            order = [keys[i] for i in sorted(range(len(keys)), key=buckets.__getitem__)]
            self._order = order
        return order

    def __iter__(self):
        return iter(self.ordered())

    def java_clone(self) -> JavaHashSet:
        """HashSet.clone(): a new table sized for the current size, filled in iteration order."""
        size = len(self._hashes)
        clone = JavaHashSet(0, hash_fn=self._hash)
        clone._capacity = _table_size_for(int(size / 0.75 + 1.0)) if size else 16
        hashes = self._hashes
        clone._hashes = {key: hashes[key] for key in self.ordered()}
        clone._order = None
        return clone


class JavaRandom:
    """java.util.Random's linear congruential generator (the parts ZooKeeper uses)."""

    __slots__ = ("_seed",)
    _MULT = 0x5DEECE66D
    _MASK = (1 << 48) - 1

    def __init__(self, seed: int):
        self._seed = (seed ^ self._MULT) & self._MASK

    def _next(self, bits: int) -> int:
        self._seed = (self._seed * self._MULT + 0xB) & self._MASK
        value = self._seed >> (48 - bits)
        if value & (1 << (bits - 1)):
            value -= 1 << bits
        return value

    def next_int(self) -> int:
        return self._next(32)

    def next_bytes(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            rnd = self._next(32)
            for _ in range(min(n - len(out), 4)):
                out.append(rnd & 0xFF)
                rnd >>= 8
        return bytes(out)


SUPER_SECRET = 0xB3415C00


def session_password(session_id: int) -> bytes:
    """ZooKeeperServer.generatePasswd(sessionId)."""
    return JavaRandom(session_id ^ SUPER_SECRET).next_bytes(16)
