"""zkcompat's deterministic core: no sockets, no threads, no wall clock, no reactor.

It receives decoded records and time (a Clock), and returns records, txns and
timers to schedule.  ``zkcompat.net`` is the only place that does I/O.
"""
