"""Test support shared by the tests and the benchmarks: doubles, stand-in servers, synthetic corpora."""
