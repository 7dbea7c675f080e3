"""Vitals over time as pictures: per-node series, matplotlib files, a terminal plot (uniplot), sparklines.

Nothing here imports matplotlib or uniplot at module level: only `ruview plot` pays for them.
"""
