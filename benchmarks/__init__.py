"""Benchmarks: embedding throughput, and the index's behaviour from the seeds up to a million abstracts."""
