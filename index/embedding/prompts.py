"""Query and passage prompts by role: the model's own, completed by what its family was trained with."""

from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

# Prompts of model families whose published sentence-transformers configs predate prompts: loaded by name from
# the hub, intfloat's E5 models come without them and would embed queries and passages unprefixed.
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
_E5_NAME = re.compile(r"(?:^|[-_])e5(?:[-_]|$)")


def known_prompts(name: str) -> dict[str, str]:
    """The query/passage prompts a model family was trained with, by the model's name ({} when unknown).

    E5 ("intfloat/multilingual-e5-small", "e5-base-v2", a local folder named so) uses "query: " and "passage: ";
    the instruction-tuned E5 variants take task instructions instead and get nothing here.
    """
    last = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
    return dict(E5_PROMPTS) if _E5_NAME.search(last) and "instruct" not in last else {}


def role_prompts(own: dict[str, str], name: str) -> dict[str, str]:
    """The prompts by role: the model's own non-empty ones, completed by its family's (`known_prompts`)."""
    known = {role: text for role, text in known_prompts(name).items() if role not in own}
    if known:
        logger.info("embedding model %s has no %s prompt(s) in its configuration; using %s, as its family "
                    "was trained", name, "/".join(sorted(known)), known)
    return {**own, **known}
