"""Measurement of models and runs: MAC counting, profiling, efficiency benchmarks.

Nothing here decides what the leaderboard shows; ``crbench.leaderboard`` reads
what these modules write.
"""
