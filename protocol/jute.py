"""Jute, ZooKeeper's serialisation, declared once with construct and compiled to fast code.

Theory of operation
-------------------
Every jute class is declared exactly once, with ``record(name, field / type, ...)``.
The declaration is a real ``construct.Struct`` (``Cls.construct``), the reference
implementation of the format.  From the same declaration this module generates,
at import time, plain Python functions built on precompiled ``struct.Struct``
objects: ``Cls.decode(buf, pos) -> (obj, pos)`` and ``Cls.encode(obj) -> bytes``,
each one straight-line function with nested records and vector elements written
inline (``_Gen``), compiled when the class is first used.  Those are what the
server runs; construct is about 50x slower.  A property test
(tests/unit/test_jute_equivalence.py) proves both paths agree on random records,
so there is no second hand-maintained definition anywhere.

Jute primitives (org.apache.jute.BinaryInputArchive / BinaryOutputArchive):
int and long are big-endian two's complement; boolean is one byte (any non-zero
byte reads as true, true is written as 1); buffer and ustring are an int32 length
then the bytes, length -1 meaning null; vector is an int32 count then the
elements, -1 meaning null and any other negative count meaning empty (Java's
BinaryIndex.done() is ``nelems <= 0``).  Strings are UTF-8; malformed bytes decode
to U+FFFD as Java's ``new String(bytes, UTF_8)`` does.

Invariant: decoders never read past the buffer they are given; a short or
inconsistent buffer raises ``JuteError`` and nothing else.
"""

from __future__ import annotations

import struct
import sys
from typing import Any, Callable

import construct as c

__all__ = [
    "JuteError",
    "Int",
    "Long",
    "Bool",
    "Buffer",
    "UString",
    "Vector",
    "Nested",
    "record",
    "JuteRecord",
]


class JuteError(ValueError):
    """A byte sequence that is not a valid jute encoding of the expected record."""


# --- primitives as construct objects -------------------------------------------------

Int = c.Int32sb
Long = c.Int64sb


class _Bool(c.Construct):
    def _parse(self, stream, context, path):
        return c.stream_read(stream, 1, path) != b"\x00"

    def _build(self, obj, stream, context, path):
        c.stream_write(stream, b"\x01" if obj else b"\x00", 1, path)
        return obj

    def _sizeof(self, context, path):
        return 1


Bool = _Bool()


def _read_length(stream, path) -> int:
    return int.from_bytes(c.stream_read(stream, 4, path), "big", signed=True)


class _Buffer(c.Construct):
    def _parse(self, stream, context, path):
        n = _read_length(stream, path)
        if n == -1:
            return None
        if n < 0:
            raise c.StreamError("negative buffer length %d" % n, path=path)
        return c.stream_read(stream, n, path)

    def _build(self, obj, stream, context, path):
        if obj is None:
            c.stream_write(stream, b"\xff\xff\xff\xff", 4, path)
        else:
            c.stream_write(stream, len(obj).to_bytes(4, "big", signed=True), 4, path)
            c.stream_write(stream, obj, len(obj), path)
        return obj


Buffer = _Buffer()


class _UString(c.Construct):
    def _parse(self, stream, context, path):
        n = _read_length(stream, path)
        if n == -1:
            return None
        if n < 0:
            raise c.StreamError("negative string length %d" % n, path=path)
        return java_utf8_decode(c.stream_read(stream, n, path))

    def _build(self, obj, stream, context, path):
        if obj is None:
            c.stream_write(stream, b"\xff\xff\xff\xff", 4, path)
        else:
            data = java_utf8(obj)
            c.stream_write(stream, len(data).to_bytes(4, "big", signed=True), 4, path)
            c.stream_write(stream, data, len(data), path)
        return obj


UString = _UString()


class Vector(c.Subconstruct):
    """vector<T>: int32 count, -1 = null, other negative counts = empty."""

    @property
    def elem(self):
        return self.subcon

    def _parse(self, stream, context, path):
        n = _read_length(stream, path)
        if n == -1:
            return None
        return c.ListContainer(self.subcon._parsereport(stream, context, path) for _ in range(max(n, 0)))

    def _build(self, obj, stream, context, path):
        if obj is None:
            c.stream_write(stream, b"\xff\xff\xff\xff", 4, path)
            return obj
        c.stream_write(stream, len(obj).to_bytes(4, "big", signed=True), 4, path)
        for item in obj:
            self.subcon._build(item, stream, context, path)
        return obj


class Nested(c.Subconstruct):
    """A field whose type is another jute record."""

    def __init__(self, record_cls: type[JuteRecord]):
        super().__init__(record_cls.construct)
        self.record_cls = record_cls


# --- the record base class -------------------------------------------------------------


class JuteRecord:
    """Base of every generated record class: slots named after the jute fields."""

    __slots__ = ()
    name: str = ""
    fields: tuple[str, ...] = ()
    types: tuple[Any, ...] = ()
    construct: c.Struct
    decode: Callable[[Any, int], tuple[Any, int]]
    encode: Callable[[Any], bytes]

    def __init__(self, *args, **kwargs):  # replaced per class by generated code
        raise NotImplementedError

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self.fields)

    def __repr__(self):
        inner = ", ".join("%s=%r" % (f, getattr(self, f)) for f in self.fields)
        return "%s(%s)" % (type(self).__name__, inner)

    __hash__ = None  # mutable

    def to_bytes(self) -> bytes:
        return type(self).encode(self)

    @classmethod
    def from_bytes(cls, data: bytes, *, exact: bool = True):
        """Decode one record; with ``exact`` the record must fill ``data``."""
        obj, pos = cls.decode(data, 0)
        if exact and pos != len(data):
            raise JuteError("%s: %d trailing bytes" % (cls.name, len(data) - pos))
        return obj

    def replace(self, **changes):
        values = {f: getattr(self, f) for f in self.fields}
        values.update(changes)
        return type(self)(**values)

    # construct interop: Containers are what construct parses and builds
    def to_container(self) -> c.Container:
        out = c.Container()
        for f, t in zip(self.fields, self.types):
            out[f] = _to_container_value(getattr(self, f), t)
        return out

    @classmethod
    def from_container(cls, cont) -> JuteRecord:
        return cls(*(_from_container_value(cont[f], t) for f, t in zip(cls.fields, cls.types)))


def _to_container_value(value, t):
    if value is None:
        return None
    if isinstance(t, Nested):
        return value.to_container()
    if isinstance(t, Vector):
        return [_to_container_value(v, t.elem) for v in value]
    return value


def _from_container_value(value, t):
    if value is None:
        return None
    if isinstance(t, Nested):
        return t.record_cls.from_container(value)
    if isinstance(t, Vector):
        return [_from_container_value(v, t.elem) for v in value]
    return value


# --- code generation --------------------------------------------------------------------

_FIXED = {id(Int): ("i", 4), id(Long): ("q", 8), id(Bool): ("?", 1)}
_I32 = struct.Struct(">i")



_REPL = "\ufffd"


def _cont(b: int) -> bool:
    return (b & 0xC0) == 0x80


def java_utf8_decode(b: bytes) -> str:
    """``new String(bytes, UTF_8)`` as JDK 17 decodes it, malformed input included.

    Valid UTF-8 decodes as usual.  Malformed sequences become U+FFFD the way
    the JDK counts them, which is not Python's way: a 3-byte encoded surrogate
    (CESU-8, what ZooKeeper itself writes for characters beyond the BMP) is
    *one* U+FFFD in Java and three in Python.
    """
    try:
        return str(b, "utf-8")
    except UnicodeDecodeError:
        pass
    out = []
    sp, sl = 0, len(b)
    while sp < sl:
        b1 = b[sp]
        sp += 1
        if b1 < 0x80:
            out.append(chr(b1))
        elif (b1 >> 5) == 0b110 and (b1 & 0x1E) != 0:  # 2 bytes, not overlong
            if sp < sl:
                b2 = b[sp]
                if not _cont(b2):
                    out.append(_REPL)
                else:
                    sp += 1
                    out.append(chr(((b1 & 0x1F) << 6) | (b2 & 0x3F)))
                continue
            out.append(_REPL)
            break
        elif (b1 >> 4) == 0b1110:  # 3 bytes
            if sp + 1 < sl:
                b2, b3 = b[sp], b[sp + 1]
                if (b1 == 0xE0 and (b2 & 0xE0) == 0x80) or not _cont(b2) or not _cont(b3):
                    out.append(_REPL)
                    # malformed3: skip 1 or 2 bytes from the lead byte (which is consumed already)
                    if not ((b1 == 0xE0 and (b2 & 0xE0) == 0x80) or not _cont(b2)):
                        sp += 1
                    continue
                sp += 2
                c = ((b1 & 0x0F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)
                out.append(_REPL if 0xD800 <= c <= 0xDFFF else chr(c))
                continue
            if sp < sl and ((b1 == 0xE0 and (b[sp] & 0xE0) == 0x80) or not _cont(b[sp])):
                out.append(_REPL)
                continue
            out.append(_REPL)
            break
        elif (b1 >> 3) == 0b11110:  # 4 bytes
            if sp + 2 < sl:
                b2, b3, b4 = b[sp], b[sp + 1], b[sp + 2]
                uc = ((b1 & 0x07) << 18) | ((b2 & 0x3F) << 12) | ((b3 & 0x3F) << 6) | (b4 & 0x3F)
                if not (_cont(b2) and _cont(b3) and _cont(b4)) or not 0x10000 <= uc <= 0x10FFFF:
                    out.append(_REPL)
                    if (b1 > 0xF4 or (b1 == 0xF0 and not 0x90 <= b2 <= 0xBF) or (b1 == 0xF4 and (b2 & 0xF0) != 0x80)
                            or not _cont(b2)):
                        pass  # malformed4 == 1: only the lead byte
                    elif not _cont(b3):
                        sp += 1
                    else:
                        sp += 2
                    continue
                sp += 3
                out.append(chr(uc))
                continue
            if b1 > 0xF4 or (sp < sl and ((b1 == 0xF0 and not 0x90 <= b[sp] <= 0xBF)
                                          or (b1 == 0xF4 and (b[sp] & 0xF0) != 0x80) or not _cont(b[sp]))):
                out.append(_REPL)
                continue
            sp += 1
            out.append(_REPL)
            if sp < sl and not _cont(b[sp]):
                continue
            break
        else:
            out.append(_REPL)
    return "".join(out)


def _rd_ustring(buf, pos):
    (n,) = _I32.unpack_from(buf, pos)
    pos += 4
    if n == -1:
        return None, pos
    end = pos + n
    if n < 0 or end > len(buf):
        raise JuteError("string length %d out of range" % n)
    raw = buf[pos:end]
    try:
        return str(raw, "utf-8"), end
    except UnicodeDecodeError:
        return java_utf8_decode(bytes(raw)), end




def java_utf8(s: str) -> bytes:
    """BinaryOutputArchive.writeString's encoding: UTF-8 of each UTF-16 code unit.

    Characters outside the BMP become two 3-byte sequences (one per surrogate),
    as ZooKeeper writes them; everything else is plain UTF-8.
    """
    if s.isascii():
        return s.encode("ascii")
    if max(s) <= "\uffff":
        return s.encode("utf-8", "surrogatepass")
    units = []
    for ch in s:
        o = ord(ch)
        if o > 0xFFFF:
            o -= 0x10000
            units.append(chr(0xD800 + (o >> 10)))
            units.append(chr(0xDC00 + (o & 0x3FF)))
        else:
            units.append(ch)
    return "".join(units).encode("utf-8", "surrogatepass")


def _wr_ustring(s):
    if s is None:
        return b"\xff\xff\xff\xff"
    b = java_utf8(s)
    return _I32.pack(len(b)) + b



def _segments(types):
    """(start, end) of each run of consecutive fixed-width fields (read or written with one struct)
    and of each other field on its own."""
    i = 0
    while i < len(types):
        j = i + 1
        if id(types[i]) in _FIXED:
            while j < len(types) and id(types[j]) in _FIXED:
                j += 1
        yield i, j
        i = j


class _Gen:
    """Emits the straight-line source of one record's decode and encode.

    Nested records and vector elements are written inline, down to their primitive fields, and
    strings and buffers are read and written in place (an ASCII string is written without the
    per-character Java encoding), so a record costs one Python call each way.
    """

    def __init__(self, ns: dict):
        self.ns = ns
        self.n = 0

    def name(self, prefix: str) -> str:
        self.n += 1
        return "%s%d" % (prefix, self.n)

    def struct(self, fmt: str) -> str:
        key = self.name("_S")
        self.ns[key] = struct.Struct(">" + fmt)
        return key

    def record_cls(self, cls) -> str:
        key = self.name("_R")
        self.ns[key] = cls
        return key

    # --- decode: lines that set ``target`` and advance ``pos`` -----------------------------

    def dec_fields(self, fields, types, targets, ind):
        lines = []
        for i, j in _segments(types):
            if id(types[i]) in _FIXED:
                key = self.struct("".join(_FIXED[id(t)][0] for t in types[i:j]))
                names = targets[i:j]
                lines.append(ind + "%s%s = %s.unpack_from(buf, pos)" % (", ".join(names), "," if len(names) == 1 else "",
                                                                    key))
                lines.append(ind + "pos += %d" % self.ns[key].size)
            else:
                lines += self.dec_value(types[i], targets[i], ind)
        return lines

    def dec_value(self, t, target, ind):
        if id(t) in _FIXED:
            return self.dec_fields(["v"], [t], [target], ind)
        if t is Buffer or t is UString:
            n, end = self.name("_n"), self.name("_end")
            what = "buffer" if t is Buffer else "string"
            lines = [
                ind + "%s, = _I32.unpack_from(buf, pos)" % n,
                ind + "pos += 4",
                ind + "if %s == -1:" % n,
                ind + "    %s = None" % target,
                ind + "else:",
                ind + "    %s = pos + %s" % (end, n),
                ind + "    if %s < 0 or %s > len(buf):" % (n, end),
                ind + "        raise JuteError('%s length %%d out of range' %% %s)" % (what, n),
            ]
            if t is Buffer:
                lines.append(ind + "    %s = bytes(buf[pos:%s])" % (target, end))
            else:
                lines += [
                    ind + "    try:",
                    ind + "        %s = str(buf[pos:%s], 'utf-8')" % (target, end),
                    ind + "    except UnicodeDecodeError:",
                    ind + "        %s = java_utf8_decode(bytes(buf[pos:%s]))" % (target, end),
                ]
            lines.append(ind + "    pos = %s" % end)
            return lines
        if isinstance(t, Nested):
            cls = t.record_cls
            locs = [self.name("_f") for _ in cls.fields]
            lines = self.dec_fields(list(cls.fields), list(cls.types), locs, ind)
            lines.append(ind + "%s = _new(%s)" % (target, self.record_cls(cls)))
            lines += [ind + "%s.%s = %s" % (target, f, loc) for f, loc in zip(cls.fields, locs)]
            return lines
        if isinstance(t, Vector):
            n, elem = self.name("_n"), self.name("_e")
            return [
                ind + "%s, = _I32.unpack_from(buf, pos)" % n,
                ind + "pos += 4",
                ind + "if %s == -1:" % n,
                ind + "    %s = None" % target,
                ind + "else:",
                ind + "    %s = []" % target,
                ind + "    for _ in range(%s):" % n,
                *self.dec_value(t.elem, elem, ind + "        "),
                ind + "        %s.append(%s)" % (target, elem),
            ]
        raise TypeError("unsupported jute type %r" % (t,))

    # --- encode: lines that append the bytes of ``source`` to ``parts`` ----------------------

    def enc_fields(self, fields, types, source, ind):
        lines = []
        for i, j in _segments(types):
            if id(types[i]) in _FIXED:
                key = self.struct("".join(_FIXED[id(t)][0] for t in types[i:j]))
                lines.append(ind + "parts.append(%s.pack(%s))" % (key, ", ".join("%s.%s" % (source, f)
                                                                                 for f in fields[i:j])))
            else:
                v = self.name("_v")
                lines.append(ind + "%s = %s.%s" % (v, source, fields[i]))
                lines += self.enc_value(types[i], v, ind)
        return lines

    def enc_value(self, t, v, ind):
        if id(t) in _FIXED:
            return [ind + "parts.append(%s.pack(%s))" % (self.struct(_FIXED[id(t)][0]), v)]
        if t is Buffer:
            return [
                ind + "if %s is None:" % v,
                ind + "    parts.append(b'\\xff\\xff\\xff\\xff')",
                ind + "else:",
                ind + "    parts.append(_I32.pack(len(%s)))" % v,
                ind + "    parts.append(%s)" % v,
            ]
        if t is UString:
            return [
                ind + "if %s is None:" % v,
                ind + "    parts.append(b'\\xff\\xff\\xff\\xff')",
                ind + "elif %s.isascii():" % v,
                ind + "    parts.append(_I32.pack(len(%s)) + %s.encode('ascii'))" % (v, v),
                ind + "else:",
                ind + "    parts.append(_wr_ustring(%s))" % v,
            ]
        if isinstance(t, Nested):
            return self.enc_fields(list(t.record_cls.fields), list(t.record_cls.types), v, ind)
        if isinstance(t, Vector):
            e = self.name("_e")
            return [
                ind + "if %s is None:" % v,
                ind + "    parts.append(b'\\xff\\xff\\xff\\xff')",
                ind + "else:",
                ind + "    parts.append(_I32.pack(len(%s)))" % v,
                ind + "    for %s in %s:" % (e, v),
                *self.enc_value(t.elem, e, ind + "        "),
            ]
        raise TypeError("unsupported jute type %r" % (t,))


def _generate_init(fields: list[str]) -> Callable:
    args = ", ".join("%s=None" % f for f in fields)
    src = "def __init__(self%s):\n" % ((", " + args) if fields else "")
    src += "".join("    self.%s = %s\n" % (f, f) for f in fields) or "    pass\n"
    ns: dict[str, Any] = {}
    exec(src, ns)  # noqa: S102 - generated from our own declarations only
    return ns["__init__"]


def _generate_codec(cls) -> tuple[Callable, Callable]:
    """Generate decode and encode for one record class from its declaration."""
    cls_name, fields, types = cls.name, list(cls.fields), list(cls.types)
    ns: dict[str, Any] = {
        "_wr_ustring": _wr_ustring,
        "java_utf8_decode": java_utf8_decode,
        "_I32": _I32,
        "JuteError": JuteError,
        "struct_error": struct.error,
        "_new": object.__new__,
        "_cls": cls,
    }
    gen = _Gen(ns)
    dec = gen.dec_fields(fields, types, list(fields), "        ")
    dec_src = "def decode(buf, pos=0):\n    try:\n"
    dec_src += "".join(line + "\n" for line in dec) or "        pass\n"
    dec_src += "    except struct_error as e:\n        raise JuteError('%s: truncated record') from e\n" % cls_name
    dec_src += "    obj = _new(_cls)\n"
    dec_src += "".join("    obj.%s = %s\n" % (f, f) for f in fields)
    dec_src += "    return obj, pos\n"

    if all(id(t) in _FIXED for t in types) and fields:
        # single pack call for all-fixed records (Stat, ReplyHeader, ...)
        key = gen.struct("".join(_FIXED[id(t)][0] for t in types))
        enc_src = "def encode(obj):\n    return %s.pack(%s)\n" % (key, ", ".join("obj.%s" % f for f in fields))
    else:
        enc = gen.enc_fields(fields, types, "obj", "    ")
        enc_src = "def encode(obj):\n    parts = []\n" + "".join(line + "\n" for line in enc)
        enc_src += "    return b''.join(parts)\n"

    exec(dec_src, ns)  # noqa: S102 - generated from our own declarations only
    exec(enc_src, ns)  # noqa: S102
    return ns["decode"], ns["encode"]


def _compile_on_first_use(cls) -> None:
    """Give ``cls`` its generated decode and encode in place of the stubs that called this.

    A class's codec is compiled when it is first used, so a process pays only for the records it
    speaks (starting a server compiles about a third of them).
    """
    decode, encode = _generate_codec(cls)
    cls.decode = staticmethod(decode)
    cls.encode = staticmethod(encode)


def record(cls_name: str, *subcons) -> type[JuteRecord]:
    """Declare one jute class; returns its generated Python class.

    ``subcons`` are ``"field_name" / jute_type`` pairs in jute order.
    """
    fields = [s.name for s in subcons]
    types = [s.subcon for s in subcons]
    for t in types:
        if not (id(t) in _FIXED or t is Buffer or t is UString or isinstance(t, (Nested, Vector))):
            raise TypeError("%s: unsupported jute type %r" % (cls_name, t))
    st = c.Struct(*subcons)

    def decode(buf, pos=0):
        _compile_on_first_use(cls)
        return cls.decode(buf, pos)

    def encode(obj):
        _compile_on_first_use(cls)
        return cls.encode(obj)

    cls = type(
        cls_name,
        (JuteRecord,),
        {
            "__slots__": tuple(fields),
            "__init__": _generate_init(fields),
            "__module__": sys._getframe(1).f_globals.get("__name__", __name__),
            "name": cls_name,
            "fields": tuple(fields),
            "types": tuple(types),
            "construct": st,
            "decode": staticmethod(decode),
            "encode": staticmethod(encode),
        },
    )
    return cls
