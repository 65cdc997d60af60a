from __future__ import annotations

from portal.views.home import home

__all__ = ["home"]
