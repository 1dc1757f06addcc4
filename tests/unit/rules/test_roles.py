"""Roles and what each allows: one table that the services, views, templates and tools ask."""
from __future__ import annotations

import pytest

from workflow_app.rules.roles import (
    ROLES,
    WORKER_ROLES,
    Role,
    may_analyse,
    may_keep_records,
    may_read_reports,
    may_report_across_landlords,
    may_supervise,
    may_work,
    unknown_roles,
)


def test_the_six_roles_in_the_order_people_are_offered_them():
    assert ROLES == ("caseworker", "stage2_reviewer", "complaints_officer", "manager", "analyst", "admin")
    assert all(type(role) is str for role in ROLES)   # what User.roles stores and click offers
    assert Role.STAGE2_REVIEWER == "stage2_reviewer"


@pytest.mark.parametrize("permission, allowed", [
    (may_supervise, {"manager", "admin"}),
    (may_analyse, {"analyst", "admin"}),
    (may_read_reports, {"manager", "admin"}),
    (may_keep_records, {"complaints_officer"}),
    (may_report_across_landlords, {"admin"}),
])
def test_each_permission_is_held_by_exactly_its_roles(permission, allowed):
    assert {role for role in ROLES if permission([role])} == allowed
    assert not permission([])
    assert permission(["caseworker", *sorted(allowed)])   # any one allowing role is enough, in a list or set
    assert permission(set(allowed))


def test_a_name_that_is_no_role_allows_nothing():
    for permission in (may_supervise, may_analyse, may_read_reports, may_keep_records, may_report_across_landlords):
        assert not permission(["Admin", "superuser", ""])


def test_simulated_and_try_it_users_work_every_task_but_supervise_nothing():
    assert WORKER_ROLES == ("caseworker", "stage2_reviewer", "complaints_officer", "analyst")
    assert not may_supervise(WORKER_ROLES)
    assert all(may_work(WORKER_ROLES, role) for role in ("caseworker", "stage2_reviewer", "complaints_officer"))


def test_a_task_is_worked_by_its_role_or_a_supervisor():
    assert may_work(["stage2_reviewer"], "stage2_reviewer")
    assert may_work(["caseworker"], None)                     # a task for anyone
    assert not may_work(["caseworker"], "stage2_reviewer")
    assert may_work(["manager"], "stage2_reviewer")
    assert may_work(["admin"], "caseworker")
    assert not may_work(["analyst"], "caseworker")


def test_unknown_roles_are_named_sorted():
    assert unknown_roles(["caseworker", "wizard", "admin", "Admin"]) == ["Admin", "wizard"]
    assert unknown_roles(ROLES) == []
