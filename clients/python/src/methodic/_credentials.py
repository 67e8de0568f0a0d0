"""Where the server is and which token to use, in the order docs/api.md gives (as ``credentials.ts``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

DEFAULT_URL = "http://127.0.0.1:8080"


def credentials_path(env: Optional[Mapping[str, str]] = None) -> Path:
    """``$XDG_CONFIG_HOME/methodic/credentials.json``, written by ``methodic login`` and ``methodic serve``."""
    env = os.environ if env is None else env
    config = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "methodic" / "credentials.json"


def read_credentials_file(env: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """What the credentials file holds; empty when there is none, or it is not a JSON object."""
    try:
        parsed = json.loads(credentials_path(env).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {k: v for k, v in parsed.items() if k in ("url", "token") and isinstance(v, str)}


def resolve_credentials(
    base_url: Optional[str] = None,
    token: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
) -> Tuple[str, Optional[str]]:
    """Explicit arguments, then METHODIC_URL / METHODIC_TOKEN, then the credentials file; the URL
    defaults to the embedded server's."""
    env = os.environ if env is None else env
    file = {} if base_url and token else read_credentials_file(env)
    url = base_url or env.get("METHODIC_URL") or file.get("url") or DEFAULT_URL
    return url.rstrip("/"), token or env.get("METHODIC_TOKEN") or file.get("token")
