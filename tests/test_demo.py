"""The demo data the README's run command loads."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from workflow_app.demo import load_demo
from workflow_app.models import Complaint, User


def test_demo_deploys_logs_complaints_and_can_run_twice(runtime):
    first = list(load_demo(runtime))
    assert any("testshire: complaint TH-" in line for line in first)
    list(load_demo(runtime))
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(Complaint.id))) == 3
        assert session.scalar(select(func.count(User.id))) == 5  # admin and four per landlord


def test_the_landlords_demo_has_a_history_a_team_at_work_and_owned_improvements(tmp_path, virtual_clock):
    """What `make run` shows: each landlord's past complaints, current ones, work assigned, lessons owned."""
    from workflow_app.definitions import cache as definition_cache
    from workflow_app.models import LessonLearnt, Task
    from workflow_app.runtime import build_runtime

    from .reporting_data import FORMS, PROCESSES

    definition_cache.clear()
    runtime = build_runtime(f"sqlite:///{tmp_path / 'demo.sqlite3'}", PROCESSES, FORMS)
    try:
        list(load_demo(runtime))
        with runtime.sessions() as session:
            for landlord in ("great_places", "brighter_places", "harrogate"):
                complaints = session.execute(select(Complaint.reference, Complaint.received_at)
                                             .where(Complaint.landlord == landlord)
                                             .order_by(Complaint.received_at)).all()
                assert len(complaints) == 33                     # 30 past, 3 current
                assert complaints[0].received_at < virtual_clock.now() - timedelta(days=365)
                numbers = [(r.split("-")[1], int(r.split("-")[2])) for r, _ in complaints]
                assert numbers == sorted(numbers), "references run in order of receipt"
                open_tasks = session.execute(select(Task.assignee).where(Task.landlord == landlord,
                                                                         Task.status == "open")).scalars().all()
                assigned = [a for a in open_tasks if a]
                assert assigned and all(a.startswith(f"{landlord}.") for a in assigned)
                assert len(assigned) >= len(open_tasks) / 2
            lessons = session.execute(select(LessonLearnt.landlord, LessonLearnt.owner, LessonLearnt.due_on,
                                             LessonLearnt.status)).all()
            assert {row.landlord for row in lessons} == {"great_places", "brighter_places", "harrogate"}
            assert all(row.owner and row.due_on for row in lessons)
            assert {row.status for row in lessons} == {"open", "in_progress", "done"}
            count = session.scalar(select(func.count(Complaint.id)))
        list(load_demo(runtime))                                  # running it again adds nothing
        with runtime.sessions() as session:
            assert session.scalar(select(func.count(Complaint.id))) == count
    finally:
        runtime.close()
        definition_cache.clear()
