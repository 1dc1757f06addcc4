"""The read side: the dashboard, the Code's measures, the heatmap, the self-assessment, the
checklist and the lessons-learnt log."""
