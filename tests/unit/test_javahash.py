"""Java's String.hashCode, HashSet order and java.util.Random, checked against values Java 17 printed."""

from zkcompat.core.javahash import JavaHashSet, java_string_hash, session_password

# Printed by a Java 17 program doing the same operations on java.util.HashSet<String>(8).
JAVA_ORDER_AFTER_CHURN = (
    "zz,n0,n1,n2,n3,n4,n5,n6,n7,n8,n30,n9,n10,n32,n31,n12,n34,n11,n33,n14,n36,n13,n35,n16,n38,n15,n37,"
    "n18,n39,n19,é,n21,n20,n23,n22,n25,n24,n27,n26,😀x,n29,n28,a-b_c"
)
JAVA_ORDER_AFTER_REMOVALS = "zz,n30,n32,n31,n34,n33,n36,n35,n38,n37,n39,é,😀x,a-b_c"
JAVA_ORDER_OF_CLONE = "zz,é,n30,n32,n31,n34,n33,n36,n35,n38,n37,😀x,n39,a-b_c"
JAVA_LOCK_ORDER = (
    "lock-0000000009,lock-0000000008,lock-0000000007,lock-0000000006,lock-0000000001,lock-0000000000,"
    "lock-0000000011,lock-0000000010,lock-0000000005,lock-0000000004,lock-0000000003,lock-0000000002"
)


def _signed(h):
    return h - (1 << 32) if h >= 1 << 31 else h


def test_string_hash_matches_java_including_surrogates():
    """String.hashCode over UTF-16 code units, as Java computes it."""
    assert _signed(java_string_hash("😀x")) == 54959989
    assert _signed(java_string_hash("é")) == 233
    assert java_string_hash("") == 0


def test_hash_set_iteration_order_matches_java():
    """Insertion, removal, re-insertion, resizes and clone() iterate as java.util.HashSet does."""
    s = JavaHashSet(8)
    for i in range(40):
        s.add("n%d" % i)
    s.discard("n3")
    s.discard("n17")
    for x in ("n3", "zz", "a-b_c", "é", "😀x"):
        s.add(x)
    assert ",".join(s) == JAVA_ORDER_AFTER_CHURN
    for i in range(30):
        s.discard("n%d" % i)
    assert ",".join(s) == JAVA_ORDER_AFTER_REMOVALS
    assert ",".join(s.java_clone()) == JAVA_ORDER_OF_CLONE
    q = JavaHashSet(8)
    for i in range(12):
        q.add("lock-%010d" % i)
    assert ",".join(q) == JAVA_LOCK_ORDER


def test_session_password_is_java_random_of_the_id():
    """generatePasswd: new Random(sessionId ^ 0xB3415C00).nextBytes(16)."""
    assert session_password(0x1000001F5AA000F).hex() == "167b36a1610946844c5e65094a01dfd6"
