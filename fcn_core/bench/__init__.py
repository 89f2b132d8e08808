"""Benchmarks (torch): the engine against the plain eager reference in one run, and peak memory."""
