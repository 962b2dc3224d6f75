"""zkcompat.xcheck.Anchors: how the cross-check proxy renders zxids of the two servers comparably."""

from __future__ import annotations

from zkcompat.xcheck import Anchors


def test_no_anchor_yet_renders_nothing():
    a = Anchors()
    assert a.render(5, reference=True) is None
    assert a.render(5, reference=False) is None


def test_distance_from_the_newest_anchor_named_by_its_real_zxid():
    a = Anchors()
    a.add(0x100, 0x40)
    a.add(0x105, 0x43)
    assert a.render(0x102, reference=True) == "Z@100+2"
    assert a.render(0x42, reference=False) == "Z@100+2"
    assert a.render(0x105, reference=True) == a.render(0x43, reference=False) == "Z@105+0"
    assert a.render(0xFF, reference=True) is None  # below every anchor: the session's own base


def test_a_transaction_on_one_side_only_shows_once_then_the_next_write_reanchors():
    a = Anchors()
    a.add(10, 10)
    # the real server reaped a container (11) before the client's write (12); the candidate did not yet
    assert a.render(12, reference=True) != a.render(11, reference=False)  # the write: reported
    a.add(12, 11)
    assert a.render(13, reference=True) == a.render(12, reference=False) == "Z@c+1"  # the next: equal


def test_anchors_only_move_forward_on_both_sides():
    a = Anchors()
    a.add(10, 10)
    a.add(9, 12)  # the real side went back: not an anchor
    a.add(12, 10)  # the candidate side did not move: not an anchor
    a.add(0, 0)
    assert (a.real, a.cand) == ([10], [10])


def test_a_real_only_transaction_moves_the_real_side_alone():
    a = Anchors()
    a.add(10, 20)
    a.add_real_only(11)  # e.g. a second closeSession only the real server read before closing
    assert a.render(12, reference=True) == a.render(21, reference=False) == "Z@b+1"
