"""The teachers' search page, the embeddable widget and the iframe embed: static files served by pedkb itself."""

from search_api.web.routes import router

__all__ = ["router"]
