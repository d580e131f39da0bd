"""Embedding models: the sentence-transformers embedder, offline provisioning, the 4-bit reader, the test embedder."""
