"""pedkb core: the settings, the limits contract and the error tree; imports nothing of ingest/, index/, search_api/."""

import os

# OpenMP threads that spin while waiting turn every small torch op into a wait for a time slice as soon as another
# process or request thread uses a core: a 15 ms query embedding took ~1 s beside one busy core. Passive waiting
# keeps it at ~30 ms. It must be set before torch is first imported, and every pedkb entry point imports this first.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Progress bars of the model loader would interleave with pedkb's own; pedkb reports its own progress.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

__version__ = "0.1.0"
