"""The command line, the demo and its history, backups."""
