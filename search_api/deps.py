"""Request dependencies: the knowledge base and the settings, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from index.knowledge_base import KnowledgeBase
from pedkb.settings import Settings


def get_kb(request: Request) -> KnowledgeBase:
    """The application's knowledge base."""
    return request.app.state.kb  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    """The application's settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


KbDep = Annotated[KnowledgeBase, Depends(get_kb)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
