"""Complaint handling for UK social landlords on BPMN diagrams run by SpiffWorkflow.

The package reads as the data flows (docs/architecture.md): `rules` (the Code, the calendar,
the vocabularies) → `diagrams` (parsing, expressions, forms, the Code check) → `casework`
(complaints run through the engine, stored) → `reporting` (read side) → `web` (one package
per kind of user) and `tools` (the command line, the demo).
"""
