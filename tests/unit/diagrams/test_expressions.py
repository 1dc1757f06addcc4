"""Diagram expressions and scripts: known escapes are refused, ordinary ones run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.util.task import TaskState

from workflow_app.diagrams.expressions import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_BUILTINS,
    MAX_SIZE,
    RestrictedEnvironment,
    UnsafeExpression,
    check_expression,
    check_script,
    restricted_script_engine,
)

RECEIVED = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


class Calls:
    """A fake calendar function that records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, when: datetime, n: int) -> datetime:
        self.calls.append((when, n))
        return when + timedelta(days=n)


@pytest.fixture
def calendar() -> Calls:
    return Calls()


@pytest.fixture
def env(calendar: Calls) -> RestrictedEnvironment:
    return RestrictedEnvironment({"working_days_after": calendar, "days_after": calendar})


def case_data() -> dict:
    return {
        "reference": "C-1",
        "received_at": RECEIVED,
        "amount": 150,
        "outcome": "upheld",
        "data": {"x": 2},
        "items": [3, 1, 2],
        "text": "a",
        "big": 10**10,
        "x": {"k": 1},
    }


# --- known escapes --------------------------------------------------------------

EXPRESSION_ESCAPES = [
    "().__class__.__base__.__subclasses__()",
    "__import__('os').system('id')",
    "[c for c in ().__class__.__bases__[0].__subclasses__()]",
    "getattr((), '__class__')",
    "open('/etc/passwd').read()",
    "eval('1')",
    "exec('x=1')",
    "'{0.__class__}'.format(1)",
    "'{x}'.format_map(data)",
    "lambda: 1",
    "(lambda: 1)()",
    "type(1)",
    "globals()",
    "locals()",
    "vars()",
    "dir()",
    "compile('1', 'f', 'eval')",
    "breakpoint()",
    "x.__dict__",
    "__builtins__",
    "_getattr_(x, 'get')",
    "'a' * 10**10",
    "9**9**9",
    "[1] * 10**9",
    "'a' * 10000000000",
    "[1] * 1000000000",
    "'a' * 1000 * 1000",
    "1 << 100000000",
    "pow(9, 9)",
    "sorted(items, key=lambda v: v)",
    "{k: 1 for k in items}",
    "(i for i in items)",
    "f'{x.__class__}'",
    "f'{amount:{text}}'",
    "f'{amount:>1000000000}'",
    "'%s' % amount",
    "len(*items)",
    "dict(**data)",
    "{**data}",
    "data.get.__self__",
    "data.pop('x')",
    "data.update(x)",
    "text.join(items)",
    "text.replace('', text)",
    "received_at.replace(year=1)",
    "(y := 1)",
    "_",
    "data.get('x')()",
    "ｏｐｅｎ('/etc/passwd')",  # identifiers are NFKC-normalised to 'open'
]

# Escapes that are only statements: refused as scripts (and as expressions, by syntax).
SCRIPT_ESCAPES = [
    "import os",
    "from os import system",
    "def f(): pass",
    "class A: pass",
    "while True: pass",
    "for i in range(10**9): pass",
    "for i in items: pass",
    "global amount",
    "with x: pass",
    "try:\n    pass\nexcept Exception:\n    pass",
    "raise ValueError('x')",
    "del amount",
    "assert amount",
    "a, b = 1, 2",
    "x.k = 1",
    "x['k'] += 1",
    "len = 3",
    "_hidden = 1",
    "acknowledged = True\nimport os",
    "acknowledged = True\nx = ().__class__",
    "if amount:\n    while True:\n        pass",
]


@pytest.mark.parametrize("source", EXPRESSION_ESCAPES)
def test_expression_escape_is_refused_before_deployment(source):
    with pytest.raises(UnsafeExpression) as refusal:
        check_expression(source)
    assert refusal.value.reason
    with pytest.raises(UnsafeExpression):
        check_script(f"result = {source}")


@pytest.mark.parametrize("source", EXPRESSION_ESCAPES)
def test_expression_escape_is_refused_as_a_condition(env, calendar, source):
    data = case_data()
    with pytest.raises(UnsafeExpression):
        env.evaluate(source, data)
    assert data == case_data()
    assert calendar.calls == []


@pytest.mark.parametrize("source", EXPRESSION_ESCAPES)
def test_expression_escape_is_refused_as_a_timer_date(env, calendar, source):
    with pytest.raises(UnsafeExpression):
        env.evaluate(f"working_days_after({source}, 5)", case_data())
    assert calendar.calls == []


@pytest.mark.parametrize("source", EXPRESSION_ESCAPES)
def test_expression_escape_is_refused_in_a_script(env, calendar, source):
    data = case_data()
    script = f"acknowledged = working_days_after(received_at, 1)\nresult = {source}"
    with pytest.raises(UnsafeExpression):
        env.execute(script, data)
    assert data == case_data()
    assert calendar.calls == []  # nothing ran: the whole script was refused first


@pytest.mark.parametrize("source", SCRIPT_ESCAPES)
def test_script_escape_is_refused(env, calendar, source):
    with pytest.raises(UnsafeExpression):
        check_script(source)
    with pytest.raises(UnsafeExpression):
        check_expression(source)
    data = case_data()
    with pytest.raises(UnsafeExpression):
        env.execute(source, data)
    assert data == case_data()


@pytest.mark.parametrize(("source", "named"), [
    ("().__class__", "'__class__': attributes starting with '_' are not allowed"),
    ("__import__('os')", "'__import__'"),
    ("'{0.__class__}'.format(1)", "str.format"),
    ("'{0}'.format_map(x)", "str.format"),
    ("getattr(x, 'k')", "'getattr'"),
    ("[c for c in items]", "comprehension"),
    ("lambda: 1", "'lambda'"),
    ("9**9", "'**'"),
    ("'a' * 10000000", "100,000"),
    ("x.keys().mapping", "'.mapping'"),
])
def test_refusal_names_the_offending_construct(source, named):
    with pytest.raises(UnsafeExpression) as refusal:
        check_expression(source)
    assert named in refusal.value.reason


@pytest.mark.parametrize(("source", "named"), [
    ("import os", "'import'"),
    ("def f(): pass", "'def'"),
    ("while True: pass", "'while' loop"),
    ("for i in items: pass", "'for' loop"),
    ("a = 1\nb = 2\nc = d ** 2", "'**'"),
    ("len = 1", "'len'"),
])
def test_script_refusal_names_the_construct_and_line(source, named):
    with pytest.raises(UnsafeExpression) as refusal:
        check_script(source)
    assert named in refusal.value.reason
    assert refusal.value.line == source.count("\n") + 1


# --- run-time guards: refusals that depend on the values ----------------------------

@pytest.mark.parametrize("source", [
    "text * big",
    "items * big",
    "big * text",
    "[text] * big",
    "(items, items) * 100000",
    "huge * huge",
    "round(amount, -1000)",
    "sum([items], [])",
    "text % amount",
    "str.lower(text)",
    "data.get.year",
    "amount.year",
    "data.lower()",
    "text.get('x')",
    "items.keys()",
    "received_at.days",
    "working_days_after.year",
    "dict.get(data, 'x')",
    "amount[0]",
    "str([items] * 50000)",
])
def test_value_dependent_refusals_happen_at_run_time(env, source):
    check_expression(source)  # nothing static to object to
    data = case_data() | {"huge": 1 << 60_000}
    with pytest.raises(UnsafeExpression):
        env.evaluate(source, data)


@pytest.mark.parametrize("script", [
    # doubling a string, line by line
    "s = text * 50000\ns = s + s\ns = s + s",
    # nesting shared lists: each line triples what printing or storing would write
    "a = [1] * 1000\n" + "".join("a = [a, a, a]\n" for _ in range(10)),
    # the same through item assignment
    "b = [0] * 100\n" + "c = [0, 0, 0]\nc[0] = b\nc[1] = b\nc[2] = b\nb = c\n" * 10,
    # cycles
    "x['self'] = x",
    "y = {'x': x}\nx['y'] = y",
    "items[0] = [1, [2, items]]",
    # many cheap-looking lines that each walk a big list
    "a = [1] * 99999\n" + "b = sorted(a)\n" * 20,
    # squaring a number, line by line
    "n = big\nn *= big\n" + "n *= n\n" * 11,
    "s = text\ns *= 10000000",
    "data['k'] = [text * 90000, text * 90000]",
])
def test_scripts_cannot_build_unbounded_values(env, script):
    check_script(script)
    data = case_data()
    with pytest.raises(UnsafeExpression):
        env.execute(script, data)
    assert data == case_data()  # a failed script changes nothing


def test_literal_work_is_bounded_at_deploy_time():
    with pytest.raises(UnsafeExpression, match="too much work"):
        check_script("s = 'a' * 99999\n" * 20)


def test_source_size_is_capped():
    with pytest.raises(UnsafeExpression, match="too long"):
        check_expression("1 + " * 3000 + "1")
    with pytest.raises(UnsafeExpression, match="too long"):
        check_script("a = 1\n" * 2000)
    with pytest.raises(UnsafeExpression, match="nested too deeply"):
        check_expression("1 + " * 200 + "1")
    with pytest.raises(UnsafeExpression):
        check_expression("-" * 9000 + "1")
    with pytest.raises(UnsafeExpression, match="must be text"):
        check_expression(None)


# --- what is allowed -------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ('outcome == "upheld" and amount > 0', True),
    ('outcome != "upheld" or amount > 1000', False),
    ('data.get("x", 1)', 2),
    ('data.get("missing", 1)', 1),
    ('data["x"] + 1', 3),
    ('"high" if amount > 100 else "low"', "high"),
    ('outcome in ("upheld", "partly upheld")', True),
    ("not items", False),
    ("len(items) + max(items) - min(items) * 2", 4),
    ("sorted(items)[:2]", [1, 2]),
    ("sum(items) / len(items)", 2.0),
    ("abs(-amount) // 100 % 7", 1),
    ("round(2.567, 2)", 2.57),
    ("str(amount) + text.upper()", "150A"),
    ("reference.lower().startswith('c-')", True),
    ("received_at.year * 100 + received_at.month", 202403),
    ("received_at.date().isoformat()", "2024-03-01"),
    ("received_at.weekday()", 4),
    ("(working_days_after(received_at, 2) - received_at).days", 2),
    ('f"{amount:.2f} on {received_at:%d %B %Y}"', "150.00 on 01 March 2024"),
    ("isinstance(amount, int) and isinstance(items, (list, tuple))", True),
    ("list(data.keys()) + [1] * 3", ["x", 1, 1, 1]),
    ("{'a': amount, 'b': [text, 2]}", {"a": 150, "b": ["a", 2]}),
    ("'a' * 1000 == text * 1000", True),
])
def test_allowed_expressions_evaluate(env, source, expected):
    assert env.evaluate(source, case_data()) == expected


def test_timer_date_calls_the_provided_function(env, calendar):
    due = env.evaluate("working_days_after(received_at, 5)", case_data())
    assert due == RECEIVED + timedelta(days=5)
    assert calendar.calls == [(RECEIVED, 5)]


def test_expression_text_from_a_diagram_may_be_indented(env):
    check_expression("\n    amount > 100\n  ")
    assert env.evaluate("\n    amount > 100\n  ", case_data()) is True


def test_script_assignments_become_task_data(env):
    data = case_data()
    script = (
        "acknowledged = True\n"
        "if amount > 100:\n"
        "    band = \"high\"\n"
        "else:\n"
        "    band = \"low\"\n"
    )
    check_script(script)
    assert env.execute(script, data) is True
    assert data["acknowledged"] is True
    assert data["band"] == "high"
    assert set(data) == set(case_data()) | {"acknowledged", "band"}
    hidden = {"working_days_after", "days_after", "__builtins__"} | ALLOWED_BUILTINS
    assert not set(data) & hidden
    assert not any(callable(value) for value in data.values())


def test_script_can_update_items_and_use_augmented_assignment(env):
    data = case_data()
    env.execute(
        "data['y'] = working_days_after(received_at, 1)\n"
        "count = 1\n"
        "count += amount\n"
        "items[0] = 'first'\n"
        "label = f'{reference}: {count}'\n"
        "if count > 1000:\n    pass\nelif count > 100:\n    level = 2\nelse:\n    level = 1\n",
        data,
    )
    assert data["data"] == {"x": 2, "y": RECEIVED + timedelta(days=1)}
    assert data["count"] == 151
    assert data["items"] == ["first", 1, 2]
    assert data["label"] == "C-1: 151"
    assert data["level"] == 2


def test_failed_script_leaves_task_data_unchanged(env):
    data = case_data()
    with pytest.raises(KeyError):
        env.execute("acknowledged = True\ndata['x'] = 99\nmissing = data['nope']", data)
    assert data == case_data()


def test_script_may_not_assign_a_provided_function(env):
    with pytest.raises(UnsafeExpression, match="working_days_after"):
        env.execute("working_days_after = 1", case_data())


def test_task_data_may_not_shadow_a_provided_function(env):
    with pytest.raises(ValueError, match="days_after"):
        env.execute("a = 1", case_data() | {"days_after": 3})


def test_functions_take_precedence_over_data_in_expressions(env):
    due = env.evaluate("days_after(received_at, 1)", case_data() | {"days_after": 3})
    assert due == RECEIVED + timedelta(days=1)


def test_underscore_data_is_invisible(env):
    data = case_data() | {"__builtins__": {"open": open}, "_secret": 1}
    assert env.evaluate("amount", data) == 150
    env.execute("a = 1", data)
    assert data["__builtins__"] == {"open": open} and data["_secret"] == 1


def test_external_context_is_visible_but_not_written_back(env):
    data = case_data()
    assert env.evaluate("limit > amount", data, {"limit": 200}) is True
    env.execute("over = amount > limit", data, {"limit": 200})
    assert data["over"] is False and "limit" not in data


def test_unknown_names_fail_normally(env):
    with pytest.raises(NameError):
        env.evaluate("no_such_field > 1", case_data())


def test_service_calls_are_refused(env):
    with pytest.raises(UnsafeExpression, match="service calls are not supported"):
        env.call_service({}, operation_name="x")


def test_function_names_are_validated():
    with pytest.raises(ValueError):
        RestrictedEnvironment({"_hidden": len})
    with pytest.raises(ValueError):
        RestrictedEnvironment({"len": len})


def test_compiled_code_is_cached(env):
    from workflow_app.diagrams.expressions import _compile

    env.evaluate("amount + 12345 > 0", case_data())
    hits = _compile.cache_info().hits
    env.evaluate("amount + 12345 > 0", case_data() | {"amount": 1})
    check_expression("amount + 12345 > 0")
    assert _compile.cache_info().hits == hits + 2


def test_size_limit_allows_exactly_the_limit(env):
    assert len(env.evaluate(f"text * {MAX_SIZE}", case_data())) == MAX_SIZE
    with pytest.raises(UnsafeExpression):
        env.evaluate(f"text * {MAX_SIZE + 1}", case_data())


def test_module_docstring_lists_every_allowed_name():
    import workflow_app.diagrams.expressions as module

    told = module.__doc__
    for name in ALLOWED_BUILTINS | set().union(*ALLOWED_ATTRIBUTES.values()):
        assert f" {name} " in told.replace("``", " ").replace("*", " ").replace("\n", " ")


# --- a whole SpiffWorkflow run ----------------------------------------------------

def bpmn(script: str, high: str = 'band == "high"', low: str = 'band == "low"') -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="triage" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="classify" scriptFormat="python">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="which"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>to_high</bpmn:outgoing><bpmn:outgoing>to_low</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="end_high"><bpmn:incoming>to_high</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_low"><bpmn:incoming>to_low</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="classify"/>
    <bpmn:sequenceFlow id="f2" sourceRef="classify" targetRef="which"/>
    <bpmn:sequenceFlow id="to_high" sourceRef="which" targetRef="end_high">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(high)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_low" sourceRef="which" targetRef="end_low">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(low)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
""".encode()


CLASSIFY = (
    "acknowledged = True\n"
    "due = working_days_after(received_at, 5)\n"
    "if amount > 100:\n"
    "    band = \"high\"\n"
    "else:\n"
    "    band = \"low\"\n"
)


def start_workflow(xml: bytes, data: dict, functions: dict) -> BpmnWorkflow:
    parser = CamundaParser()
    parser.add_bpmn_str(xml)
    workflow = BpmnWorkflow(parser.get_spec("triage"),
                            script_engine=restricted_script_engine(functions))
    workflow.get_next_task(state=TaskState.READY).data.update(data)
    return workflow


def run_workflow(xml: bytes, data: dict, functions: dict) -> BpmnWorkflow:
    workflow = start_workflow(xml, data, functions)
    workflow.do_engine_steps()
    return workflow


def task_named(workflow: BpmnWorkflow, name: str):
    return next(task for task in workflow.get_tasks() if task.task_spec.name == name)


def completed(workflow: BpmnWorkflow) -> set[str]:
    return {task.task_spec.name for task in workflow.get_tasks(state=TaskState.COMPLETED)}


@pytest.mark.parametrize(("amount", "end", "band"),
                         [(150, "end_high", "high"), (50, "end_low", "low")])
def test_workflow_runs_with_the_restricted_engine(calendar, amount, end, band):
    workflow = run_workflow(bpmn(CLASSIFY), {"amount": amount, "received_at": RECEIVED},
                            {"working_days_after": calendar})
    assert workflow.is_completed()
    ends = completed(workflow) & {"end_high", "end_low"}
    assert ends == {end}
    assert workflow.data["band"] == band
    assert workflow.data["acknowledged"] is True
    assert workflow.data["due"] == RECEIVED + timedelta(days=5)
    assert "working_days_after" not in workflow.data
    assert calendar.calls == [(RECEIVED, 5)]


@pytest.mark.parametrize("malicious", [
    "ran = working_days_after(received_at, 1)\nx = ().__class__.__base__.__subclasses__()",
    "ran = working_days_after(received_at, 1)\nimport os\nos.system('touch /tmp/pwned')",
    "ran = working_days_after(received_at, 1)\nwhile True:\n    pass",
    "ran = working_days_after(received_at, 1)\nband = 'a' * 10**10",
])
def test_malicious_script_fails_before_anything_runs(calendar, malicious):
    workflow = start_workflow(bpmn(malicious), {"amount": 150, "received_at": RECEIVED},
                              {"working_days_after": calendar})
    with pytest.raises(WorkflowTaskException) as error:
        workflow.do_engine_steps()
    assert error.value.error_type == "UnsafeExpression"
    assert calendar.calls == []
    script_task = task_named(workflow, "classify")
    assert script_task.state == TaskState.ERROR
    assert "ran" not in script_task.data
    assert not workflow.is_completed()
    assert not completed(workflow) & {"end_high", "end_low"}


def test_malicious_condition_fails_before_anything_runs(calendar):
    condition = "band == 'high' and getattr(band, '__class__')"
    workflow = start_workflow(bpmn(CLASSIFY, high=condition),
                              {"amount": 150, "received_at": RECEIVED},
                              {"working_days_after": calendar})
    with pytest.raises(WorkflowTaskException) as error:
        workflow.do_engine_steps()
    assert error.value.error_type == "UnsafeExpression"
    assert calendar.calls == [(RECEIVED, 5)]  # only the script's own call
    assert task_named(workflow, "which").state == TaskState.ERROR
    assert not completed(workflow) & {"end_high", "end_low"}


def test_engine_refuses_service_calls_with_a_task_error(calendar):
    workflow = run_workflow(bpmn(CLASSIFY), {"amount": 1, "received_at": RECEIVED},
                            {"working_days_after": calendar})
    task = workflow.get_tasks(state=TaskState.COMPLETED)[-1]
    with pytest.raises(WorkflowTaskException, match="service calls are not supported"):
        workflow.script_engine.call_service(task, operation_name="send_letter")
