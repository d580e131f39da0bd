"""The PostgreSQL + pgvector backend: plain SQL over psycopg 3."""
