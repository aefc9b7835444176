"""The pieces of the benchmark driver, bench/run.py."""
