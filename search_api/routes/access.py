"""Access: whether an API key may write, so that a client (the manage page) can check a key when it is entered."""

from __future__ import annotations

from fastapi import APIRouter

from search_api.deps import GuardedRoute, WriterDep
from search_api.schemas import ErrorResponse, Status

router = APIRouter(prefix="/access", tags=["access"], route_class=GuardedRoute)


@router.get("", response_model=Status, dependencies=[WriterDep], responses={
    401: {"model": ErrorResponse, "description": "no API key"},
    403: {"model": ErrorResponse, "description": "the API key is wrong, or the server takes no writes"},
    429: {"model": ErrorResponse, "description": "too many wrong keys from this address; wait Retry-After seconds"},
})
def check_access() -> Status:
    """`ok` when the key sent (`X-API-Key` or `Authorization: Bearer`) may upload, create, update and delete."""
    return Status(status="ok")
