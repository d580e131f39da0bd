"""Storage: the one backend contract (`base.py`), the factory, and the embedded and PostgreSQL backends."""
