"""Four-letter words: the shape of each answer (lines, keys, order), numbers that vary masked.

See normalize.normalize_4lw for exactly what is masked per command.  The words
that report sessions and watches (stat, cons, wchs, wchc, wchp, dump) run with a
session of the scenario open, holding watches and an ephemeral.
"""

from __future__ import annotations

from protocol.codes import CreateMode

from . import register, scenario


def _with_session(t):
    c = t.session()
    c.create(t.path("w"))
    c.create(t.path("e"), flags=CreateMode.EPHEMERAL)
    c.get_data(t.path("w"), watch=True)
    c.get_children(t.path("w"), watch=True)
    c.exists(t.path("missing"), watch=True)
    return c


for _cmd, _session in [
    ("ruok", False),
    ("srvr", False),
    ("stat", True),
    ("envi", False),
    ("isro", False),
    ("mntr", False),
    ("conf", False),
    ("cons", True),
    ("wchs", True),
    ("wchc", True),
    ("wchp", True),
    ("dump", True),
    ("dirs", False),
    ("gtmk", False),
    ("hash", False),
    ("crst", False),
    ("srst", False),
]:

    def _f(t, cmd=_cmd, session=_session):
        c = _with_session(t) if session else None
        t.four_letter_word(cmd)
        if c is not None:
            c.ping()

    register(
        "4lw.%s" % _cmd,
        _f,
        "The four-letter word %r: its answer's shape%s." % (_cmd, " with one watching session" if _session else ""),
    )


@scenario("4lw.srvr_zxid_follows_writes")
def _(t):
    """srvr's Zxid line is the last zxid: it moves by one per write."""
    c = t.session()
    c.ping()
    t.four_letter_word("srvr")
    c.create(t.path("a"))
    c.create(t.path("a"))  # a failed write moves it too
    t.four_letter_word("srvr")


@scenario("4lw.wchs_counts")
def _(t):
    """wchs counts watching connections, watched paths and watches across two sessions."""
    c1 = _with_session(t)
    c2 = t.session()
    c2.get_data(t.path("w"), watch=True)
    c2.exists(t.path("e"), watch=True)
    t.four_letter_word("wchs")
    c1.set_data(t.path("w"), b"x")
    t.four_letter_word("wchs")


@scenario("4lw.unknown_word")
def _(t):
    """An unknown four-letter word ("abcd", a huge frame length) is closed without an answer."""
    t.four_letter_word("abcd")


@scenario("4lw.uppercase")
def _(t):
    """ "RUOK" in capitals is not a four-letter word: closed without an answer."""
    t.four_letter_word("RUOK")


@scenario("4lw.with_trailing_bytes")
def _(t):
    """ "ruok" followed by more bytes in the same write: the answer is still imok."""
    t.four_letter_word(b"ruok\r\n")


@scenario("4lw.stmk_sets_trace_mask")
def _(t):
    """stmk with an 8-byte mask answers the new mask; gtmk reads it back; the default is restored."""
    t.four_letter_word(b"stmk" + (0b1010).to_bytes(8, "big"))
    t.four_letter_word("gtmk")
    t.four_letter_word(b"stmk" + (306).to_bytes(8, "big"))


@scenario("4lw.dump_after_ephemeral_deleted")
def _(t):
    """dump still lists a session whose only ephemeral was deleted (with no paths), until the session ends."""
    c = _with_session(t)
    c.delete(t.path("e"))
    t.four_letter_word("dump")
