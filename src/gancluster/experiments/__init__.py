"""Experiments that reproduce a paper's tables as functions returning rows (benchmarks/ prints them)."""
