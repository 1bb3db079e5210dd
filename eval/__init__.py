"""Batch evaluation over question sets (uses the public `rag` API)."""
