"""The walk pauses Python's cycle collector and leaves it as it found it."""
from __future__ import annotations

import gc

import pytest

from workflow_app.diagrams.code_check.walk import collector_paused


@pytest.fixture
def collector_restored():
    was_on = gc.isenabled()
    yield
    if was_on:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.usefixtures("collector_restored")
def test_the_collector_is_off_during_the_walk_and_on_again_after():
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_restored")
def test_a_collector_turned_off_elsewhere_stays_off():
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


@pytest.mark.usefixtures("collector_restored")
def test_the_collector_is_on_again_after_a_walk_that_fails():
    gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a walk that fails")
    assert gc.isenabled()
