"""Quorum arithmetic (ZooKeeper's QuorumMaj): a strict majority of the voting members."""

from __future__ import annotations


class QuorumVerifier:
    """Voters decide; observers only learn.  ``contains_quorum`` is the one rule everything uses."""

    def __init__(self, voters, observers=()):
        self.voters = frozenset(voters)
        self.observers = frozenset(observers)
        if not self.voters:
            raise ValueError("an ensemble needs at least one voting member")
        if self.voters & self.observers:
            raise ValueError("a server cannot be both a voter and an observer")
        self.half = len(self.voters) // 2

    @property
    def members(self) -> frozenset:
        return self.voters | self.observers

    def is_voter(self, sid: int) -> bool:
        return sid in self.voters

    def contains_quorum(self, sids) -> bool:
        """More than half of the voters are in ``sids`` (QuorumMaj.containsQuorum)."""
        return len(self.voters.intersection(sids)) > self.half
