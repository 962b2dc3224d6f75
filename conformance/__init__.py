"""Differential conformance suite: the same scenarios against Apache ZooKeeper and zkcompat.

Theory of operation
-------------------
Each scenario (conformance.scenarios) speaks raw jute to a server through a
recording wire client (conformance.client) and yields a transcript: every frame the
server sent, decoded by the request it answers, plus closes and timeouts, in a
deterministic order.  The same scenario runs against real Apache ZooKeeper 3.8 (the
specification) and against the candidate (zkcompat, or a second real ZooKeeper to
validate the harness).  Both transcripts are normalised (conformance.normalize:
zxids by distance, times by order, session ids and passwords by identity; nothing
else) and compared field by field (conformance.compare).  Reviewed, intended
differences are listed in intended_differences.toml; any other difference fails the
run.  ``python -m conformance --help`` for the command line.

Modules: client (wire client and transcript), harness (one scenario on one server:
setup, epilogue, cleanup), normalize, compare, intended, runner (servers, threads,
shards), report (text and HTML), servers (one configuration for both servers),
scenarios/ (the scenarios, by area).
"""
