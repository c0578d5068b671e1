"""The reference tests (every test named ``*reference*``) run twice: on the eager step and on the fused
step (``ArenaOptimizer.fuse``, one compiled graph per parameter group), with the same tolerances."""

from __future__ import annotations

import pytest

from optarena.optim.base import ArenaOptimizer


def pytest_generate_tests(metafunc):
    if "reference" in metafunc.function.__name__:
        metafunc.parametrize("step_path", ["eager", "fused"], indirect=True)


@pytest.fixture(autouse=True)  # autouse: in every test's closure, so the parametrization above reaches it
def step_path(request, monkeypatch):
    path = getattr(request, "param", "eager")
    if path == "fused":
        original = ArenaOptimizer.__init__

        def fused_init(self, *args, **kwargs):
            original(self, *args, **kwargs)
            self.fuse()

        monkeypatch.setattr(ArenaOptimizer, "__init__", fused_init)
    return path
