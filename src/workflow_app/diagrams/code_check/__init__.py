"""The Complaint Handling Code check: what a landlord's diagram does, held against the Code.

The engine's checks (`definitions.find_problems`) say whether a diagram can run; this
package says whether what it runs meets the Housing Ombudsman's Complaint Handling Code
(2024). It reads the diagram with its forms, its letter templates and the landlord's
settings, and reports findings, each with the Code provision, a severity (an `error`
the Code forbids, a `warning` the Code allows only with good reason), the element an
analyst must look at, and a plain explanation.

How it reads a diagram: it walks every path through the process the way the engine
would run it, trying the answers each form allows wherever a gateway, script or timer
reads them, and keeps, along each path, the few facts the Code's rules need (the
deadlines armed so far, the letters sent since, whether stage 1 has been answered...).
Two paths that reach the same element with the same case data still to be read and the
same facts have the same future, so only one of them is followed further.

Deadlines are worked out by *evaluating* each timer's own expression with the calendar
functions, over a sweep of receipt dates (at least a year of days, just after and just
before midnight, so weekends, bank holidays, Christmas and the clock changes all count),
with every date the case has recorded so far set to day 0, and measuring the working
days from day 0 to the due time. Nothing is read out of the expression's text. The
sweep stays within the calendar's years, and a due time that cannot be worked out for
some receipt day is an engine error: the engine would fail on such a complaint too.

Rules that judge what the diagram does rather than what it is called:
- the Code's acknowledgement clocks (6.2, 6.11) run wherever a complaint waits: from
  receipt until the element the `stage1_acknowledge` timer is attached to completes, and
  from an escalation request (a message after stage 1 is answered that leads into stage
  2) until stage 2 is acknowledged, every wait state has that timer on itself, on a
  subprocess around it, or among an event-based gateway's own events;
- a stage 2 deadline counts from the request or from something recorded since (6.11,
  6.14), never only from earlier dates such as the stage 1 response;
- after the stage 2 final response, a user task whose answers a gateway reads to choose
  between different outcomes, or that leads to a further response, is a third stage (5.3).

What the check needs a diagram to carry beyond the engine's conventions is in
docs/diagram-conventions.md, "Code check".

The package, by concern: `findings` (what is reported), `process_graph` (the diagram as the
walk sees it, on `diagrams.graph`), `forms` (answers tried), `facts` (what a path carries),
`timers` (the sweep of receipt dates), `liveness` (the case data a path can still read), `walk`
(the paths), and the rules: `clocks`,
`extensions`, `letters`, `refusals`, `stages`; `check` holds the entry points.
"""
from __future__ import annotations

from workflow_app.diagrams.code_check.check import check_code, check_file
from workflow_app.diagrams.code_check.findings import ENGINE, ERROR, WARNING, Finding, code_errors, sort_findings
from workflow_app.diagrams.code_check.process_graph import main_process
from workflow_app.diagrams.code_check.timers import sweep_instants

__all__ = ["ENGINE", "ERROR", "WARNING", "Finding", "check_code", "check_file", "code_errors", "main_process",
           "sort_findings", "sweep_instants"]
