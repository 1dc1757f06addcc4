"""Who may do what: the roles a user holds and the one place that says what each allows.

A user holds several roles (`User.roles`, a list of strings). A task a diagram gives a role
(its lane, `Task.role`) is for users holding that role; the permissions below say what else a
role allows. Every check in the services, the views, the templates and the tools asks these
functions, never a role name.
"""
from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    CASEWORKER = "caseworker"
    STAGE2_REVIEWER = "stage2_reviewer"
    COMPLAINTS_OFFICER = "complaints_officer"
    MANAGER = "manager"
    ANALYST = "analyst"
    ADMIN = "admin"


ROLES: tuple[str, ...] = tuple(role.value for role in Role)
"""Every role, in the order people are offered them (plain strings, as `User.roles` stores them)."""

SUPERVISING: frozenset[Role] = frozenset({Role.ADMIN, Role.MANAGER})
"""See and work every task whatever its role, and assign or release anyone's."""
ANALYSING: frozenset[Role] = frozenset({Role.ANALYST, Role.ADMIN})
"""Draft, check, try and deploy the landlords' diagrams (the Processes pages)."""
REPORTING: frozenset[Role] = frozenset({Role.MANAGER, Role.ADMIN})
"""Read the reports and use every manager page."""
KEEPING_RECORDS: frozenset[Role] = frozenset({Role.COMPLAINTS_OFFICER})
"""Keep the Code's records: the self-assessment, the lessons-learnt log, the complaint checklists."""
ACROSS_LANDLORDS: frozenset[Role] = frozenset({Role.ADMIN})
"""See the reports for every landlord at once, by default."""

WORKER_ROLES: tuple[str, ...] = tuple(role.value for role in Role if role not in SUPERVISING)
"""The roles a simulated or Try it user gets: every role that works tasks, none that supervises."""


def _holds(roles: Iterable[str], allowed: frozenset[Role]) -> bool:
    return not allowed.isdisjoint(roles)


def may_supervise(roles: Iterable[str]) -> bool:
    return _holds(roles, SUPERVISING)


def may_analyse(roles: Iterable[str]) -> bool:
    return _holds(roles, ANALYSING)


def may_read_reports(roles: Iterable[str]) -> bool:
    return _holds(roles, REPORTING)


def may_keep_records(roles: Iterable[str]) -> bool:
    return _holds(roles, KEEPING_RECORDS)


def may_report_across_landlords(roles: Iterable[str]) -> bool:
    return _holds(roles, ACROSS_LANDLORDS)


def may_work(roles: Iterable[str], task_role: str | None) -> bool:
    """Whether someone holding `roles` may work a task for `task_role` (None: anyone's task)."""
    held = set(roles)
    return may_supervise(held) or task_role is None or task_role in held


def unknown_roles(roles: Iterable[str]) -> list[str]:
    """The names among `roles` that are no role, sorted."""
    return sorted(set(roles) - set(ROLES))
