"""pedkb core: settings, the error tree and the command line shared by ingest/, index/ and search_api/."""

__version__ = "0.1.0"
