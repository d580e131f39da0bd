"""The `pedkb` command line: an entry point on top of ingest/, index/ and search_api/, beside the API."""
