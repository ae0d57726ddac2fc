"""Choosing a strategy: `recommend` (the decision table as a prior, moved by evidence measured on the
user's data and machine), `compare` (a budgeted bake-off by successive halving) and `auto` (both, then the
final fit)."""
