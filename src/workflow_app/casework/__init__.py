"""Complaints worked through their diagrams: the store, the engine around SpiffWorkflow, the
services for complaints, tasks, letters and deadlines, the audit trail and the scheduler."""
