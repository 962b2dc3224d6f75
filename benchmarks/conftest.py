"""Without pytest-benchmark (the ``[bench]`` extra), each benchmark still runs, once, as a test.

CI installs only ``[test]``: there the ``benchmark`` fixture below calls the timed function once
(``pedantic``: a few rounds with their setup), so a benchmark that no longer runs, or whose
assertions no longer hold, fails the suite instead of rotting. With pytest-benchmark installed,
its own fixture is used and the benchmarks are timed.
"""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("pytest_benchmark") is None:

    class _Once:
        def __call__(self, fn, *args, **kwargs):
            return fn(*args, **kwargs)

        def pedantic(self, fn, args=(), kwargs=None, setup=None, rounds=1, **_):
            result = None
            for _ in range(min(rounds, 3)):
                if setup is not None:
                    args, kwargs = setup()
                result = fn(*args, **(kwargs or {}))
            return result

    @pytest.fixture
    def benchmark():
        return _Once()
