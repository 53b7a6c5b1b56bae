"""Benchmarks for the live rooms: fan-out, commit throughput, idle connections.

Run ``python -m bench.run`` (or ``make bench``); see ``bench/RESULTS.md`` for
the last committed results and ``bench/run.py`` for the options.
"""
