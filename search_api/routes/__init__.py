"""The REST API's resources, one router per module, all under one versioned prefix declared here."""

from __future__ import annotations

API_PREFIX = "/api/v1"
