"""One settings class for the whole service (environment prefix PEDKB_), validated at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from limits import parse_many
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pedkb.limits import MAX_K, MAX_OFFSET, MAX_QUERY_CHARS, MAX_TEXT_CHARS

DEFAULT_MODEL = "intfloat/multilingual-e5-small"


def default_model_cache() -> Path:
    """Where provisioned models live: $XDG_CACHE_HOME/pedkb/models, else ~/.cache/pedkb/models."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pedkb" / "models"


def default_corpus() -> Path:
    """The corpus/ folder of this checkout, else ./corpus."""
    here = Path(__file__).resolve().parents[1] / "corpus"
    return here if here.is_dir() else Path("corpus")


class Settings(BaseSettings):
    """pedkb configuration; every field can be set as PEDKB_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="PEDKB_", env_file=None, extra="ignore")

    data: Path = Field(default=Path("data"), description="Folder holding the store and the vector index.")
    corpus: Path = Field(default_factory=lambda: default_corpus(),
                         description="Folder of the technology classification and the sample experiences.")
    model: str = Field(default=DEFAULT_MODEL, description="Embedding model: a hub name or a local folder.")
    model_cache: Path = Field(default_factory=default_model_cache, description="Where provisioned models live.")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        default="auto", description="Torch precision; with runtime auto, fp32/bf16 mean torch at that precision."
    )
    runtime: Literal["auto", "torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8", "openvino-bf16"] = Field(
        default="auto", description="Embedding engine and precision; auto picks by the CPU's features "
                                    "(index/embedding/runtime.py)."
    )
    batch_size: int = Field(default=32, ge=1, le=1024)
    query_cache_size: int = Field(default=1024, ge=0, le=1_000_000,
                                  description="Query vectors kept in memory, least recently used dropped (0: none).")
    chunk_tokens: int = Field(default=128, ge=32, le=512,
                              description="Token budget of one chunk (128 measured best, docs/retrieval.md).")
    chunk_overlap: int = Field(default=24, ge=0, le=256, description="Tokens shared by neighbouring chunks.")
    lang_centering: float = Field(
        default=1.0, ge=0.0, le=1.0,
        description="How strongly each language's scores are put on one scale (the query's mean and spread over "
                    "that language's passages), so a query is not drawn to passages in its own language (0 turns "
                    "it off).",
    )
    max_file_mb: float = Field(default=50.0, gt=0, description="Files larger than this are refused.")
    max_decompressed_mb: float = Field(
        default=200.0, gt=0, description="Largest total unpacked size of a DOCX (ZIP) package, from its directory "
                                         "and counted again while unpacking."
    )
    max_compression_ratio: float = Field(
        default=100.0, gt=1, description="Largest unpacked/packed size ratio of a DOCX package (text XML packs "
                                         "about 5-20x; bombs pack 1000x)."
    )
    max_pdf_pages: int = Field(default=5000, ge=1, description="PDFs with more pages are refused before reading.")
    max_text_chars_per_file: int = Field(default=5_000_000, ge=1000,
                                         description="Most characters of text one file may yield (about 2,500 "
                                                     "pages); a file that yields more is refused.")
    parse_timeout_s: float = Field(default=60.0, gt=0,
                                   description="Wall-clock limit of reading one file; the parser process is killed "
                                               "after it.")
    parse_memory_mb: int = Field(default=1024, ge=64,
                                 description="Address space a parse may add to the parser process's start-up "
                                             "footprint (RLIMIT_AS).")
    isolate_parsing: bool = Field(default=True, description="Read files in a separate, resource-limited parser "
                                                            "process (off: in the calling process, limits on "
                                                            "sizes still apply, time and memory limits do not).")
    ocr_dpi: int = Field(default=300, ge=150, le=600, description="Resolution scanned PDF pages are OCR'd at.")
    ocr_workers: int = Field(default=2, ge=1, le=64, description="Pages OCR'd in parallel, one Tesseract process each.")
    ocr_page_timeout: float = Field(default=120.0, gt=0,
                                    description="Seconds of OCR one page may take; a slower page is left out.")
    ocr_tesseract: str = Field(default="tesseract", description="The Tesseract command (a name on PATH or a path).")
    backend: str = Field(default="faiss", description="Vector backend: faiss (embedded) or a postgresql:// URL.")
    read_backend: str | None = Field(
        default=None, description="A postgresql:// URL of a read replica for searches and listings (optional)."
    )
    pg_index_memory: str = Field(
        default="1GB", pattern=r"^\d+\s*(kB|MB|GB|TB)?$",
        description="maintenance_work_mem of a PostgreSQL HNSW index build (after a bulk load, a reindex); the "
                    "graph of 1M 384-dim vectors needs about 2.3 GB to be built in memory (measured 2.2 KB a vector).",
    )
    pg_index_workers: int = Field(default=2, ge=0, le=64,
                                  description="max_parallel_maintenance_workers of that build.")
    ann_threshold: int = Field(default=100_000, ge=0,
                               description="Chunks from which the embedded backend searches an approximate "
                                           "(HNSW) segment instead of its exact flat index; 0 keeps it flat.")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Keys that may write through the API (upload, create, update, delete); comma-separated in "
                    "the environment. Empty: the API is read-only.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"], description="Origins a browser may call the API from; comma-separated."
    )
    max_query_chars: int = Field(default=1000, ge=1, le=MAX_QUERY_CHARS,
                                 description="Longest search query the API accepts, in characters.")
    max_text_chars: int = Field(default=20_000, ge=1, le=MAX_TEXT_CHARS,
                                description="Longest text /similar and /classify accept, in characters.")
    max_k: int = Field(default=100, ge=1, le=MAX_K, description="Most results one API request may ask for.")
    max_offset: int = Field(default=1000, ge=0, le=MAX_OFFSET,
                            description="Deepest result offset the API pages to.")
    max_request_kb: int = Field(default=256, ge=1, le=65536,
                                description="Largest JSON request body, in KB (uploads have their own limit).")
    max_upload_mb: float = Field(default=100.0, gt=0, description="Largest upload request (all files), in MB.")
    max_upload_files: int = Field(default=20, ge=1, le=1000, description="Most files in one upload request.")
    rate_limit_search: str = Field(
        default="300/minute", description="Searches (GET and POST) one client address may make without a key; "
                                          "`limits` notation (`10/second;300/minute`), empty for no limit.")
    rate_limit_search_key: str = Field(default="3000/minute",
                                       description="Searches one valid API key may make, from any address.")
    rate_limit_analysis: str = Field(
        default="60/minute", description="Calls of /classify, /similar and /experiences/{id}/similar one client "
                                         "address may make without a key (each runs the model over a text).")
    rate_limit_analysis_key: str = Field(default="600/minute",
                                         description="The same calls one valid API key may make.")
    rate_limit_key_failures: str = Field(default="20/minute",
                                         description="Wrong API keys one client address may send before it is "
                                                     "answered 429 instead of 403.")
    search_log_days: int = Field(
        default=90, ge=0, le=3650,
        description="Days the search log (queries, answers, opened items; never an address or key) is kept for "
                    "the gap report; older searches are deleted automatically. 0 records nothing (docs/analytics.md).")
    gap_distance: float = Field(
        default=0.75, gt=0.0, lt=2.0,
        description="Cosine distance within which every two unmet queries of one group lie in `pedkb gaps` "
                    "(complete linkage after removing the typical query; measured for the default model, "
                    "docs/analytics.md).")
    oai_page_size: int = Field(default=100, ge=1, le=1000,
                               description="Records (or headers) per OAI-PMH list response before a resumption "
                                           "token (docs/harvesting.md).")
    oai_repository_name: str = Field(default="pedkb: bank of pedagogical experience", min_length=1,
                                     description="The repositoryName an OAI-PMH Identify answers.")
    oai_namespace: str = Field(default="pedkb.local", pattern=r"^[A-Za-z][A-Za-z0-9\-]*(\.[A-Za-z0-9\-]+)+$",
                               description="The domain in OAI identifiers (oai:NAMESPACE:ID); set it to the "
                                           "server's public host name.")
    oai_admin_email: str = Field(default="admin@pedkb.local", pattern=r"^[^@\s]+@[^@\s]+$",
                                 description="The adminEmail an OAI-PMH Identify answers.")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("api_keys")
    @classmethod
    def _keys_not_blank(cls, value: list[str]) -> list[str]:
        if any(not key.strip() for key in value):
            raise ValueError("an API key must not be blank")
        return value

    @field_validator("rate_limit_search", "rate_limit_search_key", "rate_limit_analysis",
                     "rate_limit_analysis_key", "rate_limit_key_failures")
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        if value.strip():
            parse_many(value)  # raises ValueError naming the notation
        return value.strip()

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_budget(cls, value: int, info: object) -> int:
        budget = getattr(info, "data", {}).get("chunk_tokens", 128)
        if value >= budget:
            raise ValueError(f"chunk_overlap ({value}) must be smaller than chunk_tokens ({budget})")
        return value

    @property
    def max_file_bytes(self) -> int:
        """The file size limit in bytes."""
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def ocr_cache(self) -> Path:
        """Where per-page OCR results are kept, so an interrupted ingest resumes (docs/ocr.md)."""
        return self.data / "ocr-cache"

    @property
    def max_request_bytes(self) -> int:
        """The JSON request body limit in bytes."""
        return self.max_request_kb * 1024

    @property
    def max_upload_bytes(self) -> int:
        """The upload request limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)
