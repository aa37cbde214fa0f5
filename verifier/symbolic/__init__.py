"""The z3 reading of programs: paths to an alarm, their conditions, and the runs that break an obligation."""
