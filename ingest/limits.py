"""Limits on reading untrusted files, taken from the settings (their defaults live there, nowhere else)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from pedkb.settings import Settings

MB = 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    """What one file may cost to read; field names are those of `Settings` (PEDKB_<NAME> in the environment)."""

    max_decompressed_mb: float
    max_compression_ratio: float
    max_pdf_pages: int
    max_text_chars_per_file: int
    parse_timeout_s: float
    parse_memory_mb: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadLimits:
        """The limits configured in `settings`."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    @classmethod
    def defaults(cls) -> ReadLimits:
        """The default limits of the settings class, ignoring the environment."""
        return cls(**{f.name: Settings.model_fields[f.name].default for f in fields(cls)})

    @property
    def max_decompressed_bytes(self) -> int:
        """The unpacked size limit in bytes."""
        return int(self.max_decompressed_mb * MB)


def setting_name(field: str) -> str:
    """The environment variable of a limit, for error messages: PEDKB_MAX_PDF_PAGES."""
    return f"PEDKB_{field.upper()}"
