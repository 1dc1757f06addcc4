"""The rules everything else follows: the working-day calendar, the clock, the deadline
vocabulary, the Code's regime, statuses and roles. Pure Python: no database, no Flask, no
SpiffWorkflow."""
