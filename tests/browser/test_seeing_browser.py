"""Seeing a complaint and the whole service, in Chromium on the demo's data: the case page's diagram opens
readable with zoom and fit buttons; the dashboard's figures open the complaints behind them; the heatmap
fills the page; the modeller loads with no console error under the Content Security Policy, its palette
clear of the diagram, with zoom and undo; and a task is completed with the keyboard alone.
"""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from workflow_app.casework.models import Complaint, Task

READABLE = 0.7
"""The zoom a diagram opens at, at least, unless the whole of it fits bigger (frontend/diagram-view.js)."""


def zoom(page: Page, container: str) -> float:
    """The diagram's scale, read from its viewport's transform."""
    matrix = page.locator(f"{container} .viewport").get_attribute("transform") or "matrix(1,0,0,1,0,0)"
    return float(re.findall(r"[-\d.e]+", matrix)[0])


def watch_console(page: Page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    return problems


def stage2_task(site) -> tuple[str, str]:
    """(reference, element id) of Great Places' complaint awaiting its stage 2 review."""
    with site.runtime.sessions() as session:
        return tuple(session.execute(select(Complaint.reference, Task.element_id)
                                     .join(Task, Task.complaint_id == Complaint.id)
                                     .where(Complaint.landlord == "great_places", Task.stage == "2",
                                            Task.status == "open")).one())


def test_the_case_diagram_opens_readable_on_where_the_complaint_waits(browser, demo_site):
    page = demo_site.sign_in(browser, "great_places.stage2_reviewer")
    problems = watch_console(page)
    reference, waiting_at = stage2_task(demo_site)
    page.goto(f"/complaints/{reference}#diagram")
    expect(page.locator("#case-diagram")).to_have_attribute("data-ready", "true")
    opened = zoom(page, "#case-diagram")
    assert opened >= READABLE
    box = page.locator("#case-diagram").bounding_box()
    current = page.locator(f'#case-diagram .marker-current[data-element-id="{waiting_at}"]').bounding_box()
    assert box["x"] <= current["x"] and current["x"] + current["width"] <= box["x"] + box["width"]
    assert box["y"] <= current["y"] and current["y"] + current["height"] <= box["y"] + box["height"]

    controls = page.get_by_role("toolbar", name="Zoom the diagram")
    controls.get_by_role("button", name="Zoom in").click()
    assert zoom(page, "#case-diagram") > opened
    controls.get_by_role("button", name="Zoom out").click()
    controls.get_by_role("button", name="Zoom out").click()
    assert zoom(page, "#case-diagram") < opened
    controls.get_by_role("button", name="Fit the whole diagram").click()
    svg = page.locator("#case-diagram .viewport").bounding_box()
    assert box["x"] <= svg["x"] and svg["x"] + svg["width"] <= box["x"] + box["width"] + 1
    assert problems == []


def test_the_dashboards_figures_open_the_complaints_behind_them(browser, demo_site):
    page = demo_site.sign_in(browser, "great_places.manager")
    page.goto("/manager/")
    overdue = int(page.locator('[data-field="overdue"]').inner_text())
    assert overdue > 0, "the demo has overdue deadlines"
    page.get_by_role("link", name=re.compile("deadlines overdue")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Deadlines overdue")
    assert page.locator("[data-figure-rows] tbody tr").count() == overdue
    page.locator("[data-figure-rows] tbody tr a").first.click()
    expect(page.locator(".tag--overdue").first).to_be_visible()   # the case page marks the overdue deadline

    page.goto("/manager/")
    due_soon = int(page.locator('[data-field="due_soon"]').inner_text())
    page.get_by_role("link", name=re.compile("due within 2 working days")).click()
    assert page.locator("[data-figure-rows] tbody tr").count() == due_soon

    page.goto("/manager/")
    waiting = page.locator('table[data-rows="waiting"] tbody tr').first
    task, count = waiting.locator("th").inner_text(), int(waiting.locator("td").first.inner_text())
    waiting.get_by_role("link", name=task).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Complaints waiting at a task: {task}")
    rows = page.locator("[data-figure-rows] tbody tr")
    assert rows.count() == count
    assert all(task == rows.nth(i).locator("td").first.inner_text() for i in range(count))


def test_the_heatmap_fills_the_page_and_opens_readable(browser, demo_site):
    page = demo_site.sign_in(browser, "great_places.manager")
    problems = watch_console(page)
    page.goto("/manager/heatmap?landlord=great_places&year=2026")
    expect(page.locator("#heatmap")).to_have_attribute("data-ready", "true")
    box = page.locator("#heatmap").bounding_box()
    assert box["width"] >= 1366 - 64 and box["height"] >= 900 - 8 * 16 - 1
    assert zoom(page, "#heatmap") >= READABLE
    expect(page.get_by_role("toolbar", name="Zoom the heatmap")).to_be_visible()
    assert problems == []


def test_the_modeller_loads_under_the_csp_beside_its_palette_with_zoom_and_undo(browser, demo_site):
    page = demo_site.sign_in(browser, "great_places.analyst")
    problems = watch_console(page)
    page.goto("/analyst/great_places/modeller")
    expect(page.locator("#modeller")).to_have_attribute("data-ready", "true")
    palette = page.locator("#modeller-canvas .djs-palette").bounding_box()
    shapes = page.locator("#modeller-canvas .djs-element.djs-shape")
    leftmost = min(shapes.nth(i).bounding_box()["x"] for i in range(shapes.count()))
    assert palette["x"] + palette["width"] < leftmost, "the palette covers none of the diagram"

    # Select two tasks: the context pad's align and distribute icons are drawn (their styles once inline).
    page.evaluate("""() => {
      const modeler = window.workflowAppModeler;
      const tasks = modeler.get("elementRegistry").filter((e) => e.type === "bpmn:UserTask").slice(0, 2);
      modeler.get("selection").select(tasks);
    }""")
    page.locator(".djs-context-pad .entry").first.wait_for()
    tools = page.get_by_role("toolbar", name="Zoom and undo")
    undo, redo = tools.get_by_role("button", name="Undo"), tools.get_by_role("button", name="Redo")
    expect(undo).to_be_disabled()
    before = page.evaluate("() => window.workflowAppModeler.get('elementRegistry').filter("
                           "(e) => e.type === 'bpmn:UserTask')[0].x")
    page.evaluate("""() => {
      const modeler = window.workflowAppModeler;
      const task = modeler.get("elementRegistry").filter((e) => e.type === "bpmn:UserTask")[0];
      modeler.get("modeling").moveElements([task], { x: 40, y: 0 });
    }""")
    expect(undo).to_be_enabled()
    undo.click()
    assert page.evaluate("() => window.workflowAppModeler.get('elementRegistry').filter("
                         "(e) => e.type === 'bpmn:UserTask')[0].x") == before
    expect(redo).to_be_enabled()
    opened = zoom(page, "#modeller-canvas")
    assert opened >= READABLE
    tools.get_by_role("button", name="Zoom in").click()
    assert zoom(page, "#modeller-canvas") > opened
    tools.get_by_role("button", name="Fit the whole diagram").click()
    canvas = page.locator("#modeller-canvas").bounding_box()
    whole = page.locator("#modeller-canvas .viewport").bounding_box()
    assert palette["x"] + palette["width"] < whole["x"] and whole["x"] + whole["width"] <= canvas["x"] + canvas["width"]
    assert zoom(page, "#modeller-canvas") < opened
    assert problems == [], "\n".join(problems)


def tab_to(page: Page, accessible_name: str, limit: int = 80) -> None:
    """Press Tab until the focused control's label (or text) is `accessible_name`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
          const el = document.activeElement;
          if (!el) return "";
          const label = el.labels && el.labels.length ? el.labels[0].innerText : "";
          return (label || el.getAttribute("aria-label") || el.innerText || el.value || "").trim();
        }""")
        if focused == accessible_name:
            return
    raise AssertionError(f"Tab never reached {accessible_name!r}")


UNLABELLED = """() => Array.from(document.querySelectorAll(
    '#task-form input:not([type=hidden]), #task-form select, #task-form textarea'))
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-labelledby') && !el.getAttribute('aria-label'))
  .map((el) => el.outerHTML.slice(0, 120))"""


def test_a_task_is_completed_with_the_keyboard_alone(browser, demo_site):
    page = demo_site.sign_in(browser, "great_places.complaints_officer")
    page.goto("/inbox")
    row = page.locator("table.tasks tbody tr", has_text="Decide whether to accept").first
    reference = row.locator("a[href^='/complaints/']").first.inner_text()
    tab_to(page, row.locator("a[href^='/tasks/']").first.inner_text())
    page.keyboard.press("Enter")
    expect(page.locator("#task-form .fjs-form")).to_be_visible()
    assert page.evaluate(UNLABELLED) == [], "every form-js field's label is tied to its input"

    tab_to(page, "A complaint")
    page.keyboard.press("Space")
    tab_to(page, "Accept: made within twelve months of the issue")
    page.keyboard.press("Space")
    tab_to(page, "Complete the task")
    page.keyboard.press("Enter")
    expect(page.locator(".notice--success")).to_contain_text("Task completed")
    page.goto(f"/complaints/{reference}")
    expect(page.locator("#history")).to_contain_text("Task completed")
    expect(page.locator("#history")).to_contain_text("Decide whether to accept the complaint")


def test_every_form_js_field_has_its_label_tied_to_its_input(browser, demo_site):
    """The stage 2 review's form, its final response and its outstanding actions opened, has every kind of
    field the forms use: radios, numbers, text areas, a drop-down list, checkboxes and dates."""
    page = demo_site.sign_in(browser, "great_places.stage2_reviewer")
    reference, _ = stage2_task(demo_site)
    page.goto(f"/complaints/{reference}")
    page.locator("#now-title + ul a").first.click()
    expect(page.locator("#task-form .fjs-form")).to_be_visible()
    page.locator("#task-form").get_by_label("Give the final response").check()
    page.locator("#task-form").get_by_label("Apologising").check()
    page.locator("#task-form").get_by_label(re.compile("^Actions are still to be done")).check()
    kinds = set(page.evaluate("() => Array.from(document.querySelectorAll('#task-form input, #task-form textarea,"
                              " #task-form select')).map((el) => el.type || el.tagName)"))
    assert {"radio", "number", "textarea", "checkbox", "text"} <= kinds, kinds   # text: the drop-down, dates
    assert page.evaluate(UNLABELLED) == []
