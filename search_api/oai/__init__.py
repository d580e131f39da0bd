"""The OAI-PMH 2.0 provider: what is harvested (`harvest.py`), the oai_dc records (`dublin_core.py`) and the six
verbs with their errors (`protocol.py`); `routes/oai.py` serves it at /oai."""
