"""Path validation: the regular-expression fast path agrees with ZooKeeper's character-by-character rules."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.codes import Err
from zkcompat.core.errors import KeeperError
from zkcompat.core.prep import validate_path, validate_path_char_by_char

TRICKY = "/.a\0\x1f\x20\x7e\x7f\x9f\xa0\ud7ff\ue000\uf8ff\uf900\ufff0\uffff\U0001f600-~ "


def _verdict(fn, path):
    try:
        fn(path)
    except KeeperError as e:
        return e.code
    return 0


@given(st.text(alphabet=TRICKY, max_size=12))
def test_fast_path_and_exact_rules_agree(path):
    assert _verdict(validate_path, path) == _verdict(validate_path_char_by_char, path)


@pytest.mark.parametrize("path", ["/", "/a", "/a/b", "/...", "/.a", "/a.", "/a/..b", "/ ", "/~"])
def test_valid(path):
    validate_path(path)


@pytest.mark.parametrize("path", ["", "a", "//", "/a/", "/.", "/..", "/a/./b", "/a/../b", "/a\0", "/\x7f",
                                  "/\x1f", "/\ud800", "/\U0001f600", "/a//b"])
def test_invalid(path):
    with pytest.raises(KeeperError) as e:
        validate_path(path)
    assert e.value.code == Err.BADARGUMENTS
