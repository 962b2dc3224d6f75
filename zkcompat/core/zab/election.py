"""Fast leader election (ZooKeeper's FastLeaderElection), as a deterministic state machine.

Theory of operation
-------------------
A LOOKING peer proposes a vote (leader id, its last zxid, its epoch) and sends
it to every voter.  Votes are ordered by (peer epoch, zxid, server id)
(``total_order``): whenever a peer hears of a better vote in its election
round (``electionEpoch``, the logical clock) it adopts it and tells everyone.
A peer whose round is behind jumps to the newer round and starts over from its
own vote.  When the votes received for the peer's current proposal form a
quorum, it waits ``finalize_wait_ms`` for a better vote; if none comes it
decides: LEADING if the winner is itself, otherwise FOLLOWING (or OBSERVING).

Peers that are already FOLLOWING or LEADING answer a LOOKING peer with the
vote they ended with, so a peer that restarts or rejoins learns the current
leader: it follows once a quorum reports the same (leader, round) and the
leader itself reports LEADING (``checkLeader``).  Observers never vote; they
learn the leader that way.

The machine does no I/O: it calls ``send(to_sid, Notification)`` and
``decided(Vote)``, and asks the injected clock for timers.  Every branch maps
to a branch of FastLeaderElection.lookForLeader / WorkerReceiver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from protocol.election import ServerState

from .quorum import QuorumVerifier

MIN_NOTIFICATION_INTERVAL_MS = 200  # finalizeWait, and the first re-send interval
MAX_NOTIFICATION_INTERVAL_MS = 60000
NOT_A_VOTER = -(1 << 63)  # Long.MIN_VALUE: an observer's "vote"


@dataclass(frozen=True, slots=True)
class Vote:
    leader: int
    zxid: int
    election_epoch: int
    peer_epoch: int
    state: ServerState = ServerState.LOOKING

    def same_vote(self, other: Vote) -> bool:
        """Vote.equals: the state does not count."""
        return (self.leader, self.zxid, self.election_epoch, self.peer_epoch) == (
            other.leader, other.zxid, other.election_epoch, other.peer_epoch)


@dataclass(frozen=True, slots=True)
class Notification:
    """One election message (FastLeaderElection.Notification / ToSend)."""

    leader: int
    zxid: int
    election_epoch: int
    state: ServerState
    sid: int  # the sender
    peer_epoch: int
    config: bytes = b""


def total_order(new_id: int, new_zxid: int, new_epoch: int, cur_id: int, cur_zxid: int, cur_epoch: int) -> bool:
    """totalOrderPredicate: is the new vote better than the current one?"""
    return new_epoch > cur_epoch or (
        new_epoch == cur_epoch and (new_zxid > cur_zxid or (new_zxid == cur_zxid and new_id > cur_id)))


class Election:
    """One peer's view of leader election; drive it with ``start``, ``receive`` and the clock."""

    def __init__(
        self,
        my_id: int,
        verifier: QuorumVerifier,
        clock,
        send: Callable[[int, Notification], None],
        decided: Callable[[Vote], None],
        *,
        participant: bool = True,
        finalize_wait_ms: int = MIN_NOTIFICATION_INTERVAL_MS,
        config: bytes = b"",
    ):
        self.my_id = my_id
        self.verifier = verifier
        self.clock = clock
        self._send = send
        self._decided = decided
        self.participant = participant
        self.finalize_wait_ms = finalize_wait_ms
        self.config = config
        self.logical_clock = 0
        self.state = ServerState.LOOKING
        self.proposed_leader = NOT_A_VOTER
        self.proposed_zxid = NOT_A_VOTER
        self.proposed_epoch = NOT_A_VOTER
        self.current_vote: Vote | None = None  # the vote this peer ended its last election with
        self._recvset: dict[int, Vote] = {}
        self._outofelection: dict[int, Vote] = {}
        self._last_zxid = 0
        self._peer_epoch = 0
        self._timer = None
        self._finalizing = False
        self._not_timeout = MIN_NOTIFICATION_INTERVAL_MS

    # --- the initial vote (getInitId / getInitLastLoggedZxid / getPeerEpoch) ---------------

    def _init_vote(self) -> tuple[int, int, int]:
        if not self.participant:
            return NOT_A_VOTER, NOT_A_VOTER, NOT_A_VOTER
        return self.my_id, self._last_zxid, self._peer_epoch

    # --- inputs ----------------------------------------------------------------------------

    def start(self, last_zxid: int, current_epoch: int) -> None:
        """Start looking (lookForLeader): a new round with our own vote."""
        self.state = ServerState.LOOKING
        self._last_zxid = last_zxid
        self._peer_epoch = current_epoch
        self._recvset = {}
        self._outofelection = {}
        self._finalizing = False
        self.logical_clock += 1
        self._update_proposal(*self._init_vote())
        self._not_timeout = MIN_NOTIFICATION_INTERVAL_MS
        self._send_notifications()
        self._arm(self._not_timeout, self._on_quiet)

    def stop_looking(self, state: ServerState, vote: Vote) -> None:
        """The peer left the election (it leads, follows or observes ``vote``)."""
        self.state = state
        self.current_vote = vote
        self._cancel()

    def receive(self, n: Notification) -> None:
        """A notification arrived from peer ``n.sid`` (WorkerReceiver + lookForLeader)."""
        if not self.verifier.is_voter(n.sid):
            # a non-voter (an observer) asks: it learns our current vote (WorkerReceiver)
            self._answer(n.sid)
            return
        if self.state != ServerState.LOOKING:
            # we are out of the election: a looking peer learns our vote
            if n.state == ServerState.LOOKING:
                self._answer(n.sid)
            return
        if n.state == ServerState.LOOKING and n.election_epoch < self.logical_clock:
            # a peer in an older round: tell it where we are (WorkerReceiver)
            self._send(n.sid, self._notification_to(n.sid))
        if self._finalizing:
            # lookForLeader polls for finalizeWait: a better vote re-opens the decision and is
            # handled as usual, anything else is dropped
            if not total_order(n.leader, n.zxid, n.peer_epoch, self.proposed_leader, self.proposed_zxid,
                               self.proposed_epoch):
                return
            self._finalizing = False
            self._arm(self._not_timeout, self._on_quiet)
        if not self.verifier.is_voter(n.leader):
            return
        if n.state == ServerState.LOOKING:
            self._on_looking(n)
        elif n.state in (ServerState.FOLLOWING, ServerState.LEADING):
            self._on_decided_peer(n)

    # --- lookForLeader branches --------------------------------------------------------------

    def _on_looking(self, n: Notification) -> None:
        if n.election_epoch > self.logical_clock:
            self.logical_clock = n.election_epoch
            self._recvset = {}
            init = self._init_vote()
            if total_order(n.leader, n.zxid, n.peer_epoch, *init):
                self._update_proposal(n.leader, n.zxid, n.peer_epoch)
            else:
                self._update_proposal(*init)
            self._send_notifications()
        elif n.election_epoch < self.logical_clock:
            return
        elif total_order(n.leader, n.zxid, n.peer_epoch, self.proposed_leader, self.proposed_zxid,
                         self.proposed_epoch):
            self._update_proposal(n.leader, n.zxid, n.peer_epoch)
            self._send_notifications()
        self._recvset[n.sid] = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch)
        mine = Vote(self.proposed_leader, self.proposed_zxid, self.logical_clock, self.proposed_epoch)
        if self._has_quorum(self._recvset, mine):
            self._finalizing = True
            self._arm(self.finalize_wait_ms, self._finalize)

    def _finalize(self) -> None:
        self._timer = None
        if not self._finalizing or self.state != ServerState.LOOKING:
            return
        self._finalizing = False
        self._decide(Vote(self.proposed_leader, self.proposed_zxid, self.logical_clock, self.proposed_epoch))

    def _on_decided_peer(self, n: Notification) -> None:
        """receivedFollowingNotification / receivedLeadingNotification."""
        vote = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.state)
        if n.election_epoch == self.logical_clock:
            self._recvset[n.sid] = vote
            if self._has_quorum(self._recvset, vote) and self._check_leader(self._recvset, n.leader,
                                                                            n.election_epoch):
                self._decide(Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch))
                return
        self._outofelection[n.sid] = vote
        if self._has_quorum(self._outofelection, vote) and self._check_leader(self._outofelection, n.leader,
                                                                              n.election_epoch):
            self.logical_clock = n.election_epoch
            self._decide(Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch))

    def _check_leader(self, votes: dict[int, Vote], leader: int, election_epoch: int) -> bool:
        if leader != self.my_id:
            v = votes.get(leader)
            return v is not None and v.state == ServerState.LEADING
        return self.logical_clock == election_epoch

    def _has_quorum(self, votes: dict[int, Vote], vote: Vote) -> bool:
        ackers = {sid for sid, v in votes.items() if v.same_vote(vote)}
        return self.verifier.contains_quorum(ackers)

    def _decide(self, vote: Vote) -> None:
        self._cancel()
        if vote.leader == self.my_id:
            state = ServerState.LEADING
        else:
            state = ServerState.FOLLOWING if self.participant else ServerState.OBSERVING
        self.state = state
        self.current_vote = vote
        self._recvset = {}
        self._outofelection = {}
        self._decided(Vote(vote.leader, vote.zxid, vote.election_epoch, vote.peer_epoch, state))

    # --- sending --------------------------------------------------------------------------------

    def _update_proposal(self, leader: int, zxid: int, epoch: int) -> None:
        self.proposed_leader = leader
        self.proposed_zxid = zxid
        self.proposed_epoch = epoch

    def _notification_to(self, sid: int) -> Notification:
        return Notification(self.proposed_leader, self.proposed_zxid, self.logical_clock, ServerState.LOOKING,
                            self.my_id, self.proposed_epoch, self.config)

    def _send_notifications(self) -> None:
        for sid in sorted(self.verifier.voters):
            self._send(sid, self._notification_to(sid))

    def _answer(self, sid: int) -> None:
        """A peer out of the election (or an observer's query) gets our current vote."""
        if self.state == ServerState.LOOKING:
            self._send(sid, self._notification_to(sid))
            return
        v = self.current_vote
        if v is None:
            return
        self._send(sid, Notification(v.leader, v.zxid, v.election_epoch, self.state, self.my_id, v.peer_epoch,
                                     self.config))

    # --- timers ------------------------------------------------------------------------------------

    def _arm(self, delay_ms: int, fn) -> None:
        self._cancel()
        self._timer = self.clock.call_later(delay_ms, fn)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_quiet(self) -> None:
        """No notification for a while: send our vote again, backing off (notTimeout doubling)."""
        self._timer = None
        if self.state != ServerState.LOOKING:
            return
        self._send_notifications()
        self._not_timeout = min(self._not_timeout * 2, MAX_NOTIFICATION_INTERVAL_MS)
        self._arm(self._not_timeout, self._on_quiet)
