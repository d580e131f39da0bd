"""The embedded backend: a SQLite file (rows, lexical index, vector cache) plus a FAISS index file."""
