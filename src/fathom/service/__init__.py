"""The web API: an app factory (:func:`create_app`), typed settings, one router per resource."""

from fathom.service.app import create_app
from fathom.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
