"""The Code check's findings are kept by content: the same diagram, forms, landlord and letters are
checked once; a change to any of them is checked afresh. And the limits are the landlord's regime's."""
from __future__ import annotations

import dataclasses
import shutil
import threading
from datetime import date

import pytest

from tests.unit.diagrams.test_code_check import CODESHIRE, FORMS
from workflow_app.diagrams.code_check import check as check_module
from workflow_app.diagrams.code_check import check_code
from workflow_app.diagrams.code_check.cache import CheckCache, cache
from workflow_app.rules.landlords import load_landlord
from workflow_app.rules.regime import regime_named

SWEEP = {"sweep_start": date(2026, 1, 1), "sweep_days": 14}   # a short sweep: these tests are about the cache
XML = (CODESHIRE / "acknowledge_8_days.bpmn").read_bytes()
LANDLORD = load_landlord(CODESHIRE)


@pytest.fixture
def runs(monkeypatch):
    """How many times the check itself ran."""
    cache.clear()
    counted = []
    real = check_module.run_check

    def counting(*args, **kwargs):
        counted.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(check_module, "run_check", counting)
    yield counted
    cache.clear()


def check(xml=XML, forms=FORMS, landlord=LANDLORD, letters=CODESHIRE / "letters", **sweep):
    return check_code(xml, forms, landlord=landlord, letters_dir=letters, **{**SWEEP, **sweep})


def test_the_same_content_is_checked_once(runs):
    first = check()
    assert [f.provision for f in first] == ["6.2"]
    second = check(XML.decode("utf-8"))         # the same content, as text
    assert second == first and len(runs) == 1
    second.clear()                              # a caller's list is its own
    assert check() == first and len(runs) == 1


def test_a_changed_diagram_is_checked_afresh(runs):
    before = check()
    fixed = XML.replace(b"days_after(received_at, 8)", b"working_days_after(received_at, 5)")
    assert fixed != XML
    after = check(fixed)
    assert len(runs) == 2
    assert before != after and "6.2" not in {f.provision for f in after}


def test_changed_forms_settings_letters_or_sweep_are_checked_afresh(runs, tmp_path):
    check()
    check(forms={k: v for k, v in FORMS.items() if k != next(iter(FORMS))})
    check(landlord=dataclasses.replace(LANDLORD, ombudsman={"phone": "0300 111 3000"}))
    letters = tmp_path / "letters"
    shutil.copytree(CODESHIRE / "letters", letters)
    check(letters=letters)
    assert len(runs) == 4
    first = next(letters.iterdir())
    first.write_text(first.read_text(encoding="utf-8") + "\n<p>changed</p>", encoding="utf-8")
    check(letters=letters)
    check(sweep_days=15)
    assert len(runs) == 6
    check(letters=letters)
    assert len(runs) == 6


def test_the_cache_is_bounded_and_drops_the_least_recently_used():
    kept = CheckCache(size=2)
    calls = []

    def finding(name):
        return lambda: calls.append(name) or [name]

    kept.get("a", finding("a"))
    kept.get("b", finding("b"))
    kept.get("a", finding("a"))                  # a is used again: b is now the oldest
    kept.get("c", finding("c"))
    assert len(kept) == 2
    kept.get("a", finding("a"))
    kept.get("b", finding("b"))
    assert calls == ["a", "b", "c", "b"]
    assert kept.get(None, finding("uncached")) == ["uncached"] and len(kept) == 2


def test_the_cache_is_shared_safely_between_threads():
    kept = CheckCache(size=8)
    results, errors = [], []

    def worker(n):
        try:
            for i in range(200):
                results.append(kept.get(str((n + i) % 12), lambda i=i: [str((n + i) % 12)]))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(kept) <= 8 and len(results) == 1200
    assert all(len(found) == 1 for found in results)


def test_the_limits_are_the_landlords_regimes(runs):
    compliant = (CODESHIRE / "complaint.bpmn").read_bytes()
    assert check(compliant) == []
    scottish = dataclasses.replace(LANDLORD, regime=regime_named("spso_model_chp"))
    found = {(f.provision, f.element_id) for f in check(compliant, landlord=scottish)}
    assert ("Part 3, Stage 1 timelines", "respond1_due") in found      # 10 working days: the SPSO allows 5
    assert len(runs) == 2
