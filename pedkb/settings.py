"""One settings class for the whole service (environment prefix PEDKB_), validated at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "intfloat/multilingual-e5-small"


def default_model_cache() -> Path:
    """Where provisioned models live: $XDG_CACHE_HOME/pedkb/models, else ~/.cache/pedkb/models."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pedkb" / "models"


class Settings(BaseSettings):
    """pedkb configuration; every field can be set as PEDKB_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="PEDKB_", env_file=None, extra="ignore")

    data: Path = Field(default=Path("data"), description="Folder holding the store and the vector index.")
    model: str = Field(default=DEFAULT_MODEL, description="Embedding model: a hub name or a local folder.")
    model_cache: Path = Field(default_factory=default_model_cache, description="Where provisioned models live.")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        default="auto", description="Embedding precision; auto picks bf16 where the CPU has native bf16."
    )
    batch_size: int = Field(default=32, ge=1, le=1024)
    chunk_tokens: int = Field(default=256, ge=32, le=512, description="Token budget of one chunk.")
    chunk_overlap: int = Field(default=48, ge=0, le=256, description="Tokens shared by neighbouring chunks.")
    lang_centering: float = Field(
        default=1.0, ge=0.0, le=1.0,
        description="How much of each language's mean similarity to subtract from a passage's score, so a query "
                    "is not drawn to passages in its own language (0 turns it off).",
    )
    max_file_mb: float = Field(default=50.0, gt=0, description="Files larger than this are refused.")
    backend: str = Field(default="faiss", description="Vector backend: faiss (embedded) or a postgresql:// URL.")
    api_keys: list[str] = Field(default_factory=list, description="Keys that may write through the API.")
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_budget(cls, value: int, info: object) -> int:
        budget = getattr(info, "data", {}).get("chunk_tokens", 256)
        if value >= budget:
            raise ValueError(f"chunk_overlap ({value}) must be smaller than chunk_tokens ({budget})")
        return value

    @property
    def max_file_bytes(self) -> int:
        """The file size limit in bytes."""
        return int(self.max_file_mb * 1024 * 1024)
