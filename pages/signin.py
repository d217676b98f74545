"""Sign in: local accounts (and the identity provider when configured); on a first run, create the first admin."""
from __future__ import annotations

from components.auth_views import signin_page
from components.state import require_app_entry

require_app_entry()
signin_page()
