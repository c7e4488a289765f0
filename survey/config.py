"""Configuration read from the environment (``PAR_SURVEY_*``)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def shipped(name: str) -> Path:
    """A folder or file kept beside the packages in a checkout (``templates``, ``migrations``,
    ``alembic.ini``), or inside ``survey/`` where an installed wheel carries it (setup.py)."""
    inside = Path(__file__).resolve().parent / name
    return inside if inside.exists() else PROJECT_ROOT / name


INSTANCE_DIR = Path(os.environ.get("PAR_SURVEY_INSTANCE_DIR", PROJECT_ROOT / "instance"))
# DejaVu Sans TTF files for the PDFs (cards, posters, paper forms); Debian's fonts-dejavu-core
FONT_DIR = Path(os.environ.get("PAR_SURVEY_FONT_DIR", "/usr/share/fonts/truetype/dejavu"))


def _instance_secret() -> str:
    """The key kept in ``instance/secret_key`` (made once) when none is given by environment."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def load_config() -> dict[str, Any]:
    env = os.environ
    database_url = env.get("PAR_SURVEY_DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'par_survey.db'}"
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": env.get("PAR_SURVEY_SECRET_KEY") or _instance_secret(),
        "BABEL_DEFAULT_LOCALE": "vi",
        "BABEL_DEFAULT_TIMEZONE": env.get("PAR_SURVEY_TIMEZONE", "Asia/Ho_Chi_Minh"),
        "LANGUAGES": ("vi", "en"),
        "PUBLIC_URL": env.get("PAR_SURVEY_PUBLIC_URL", "http://127.0.0.1:5000"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("PAR_SURVEY_SECURE_COOKIES", "0") == "1",
        "WTF_CSRF_TIME_LIMIT": None,  # the CSRF token lives as long as the session
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        # exports leave estimates from fewer answers than this blank (small-cell suppression)
        "SMALL_CELL_K": int(env.get("PAR_SURVEY_SMALL_CELL_K", "5")),
        # where failed logins are counted across workers: "database" or a redis:// URL
        "RATE_LIMIT_STORAGE": env.get("PAR_SURVEY_RATE_LIMIT_STORAGE", "database"),
        # reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust (0: none).
        # Behind nginx set 1, or every client looks like the proxy's address to the rate limits.
        "TRUSTED_PROXIES": int(env.get("PAR_SURVEY_TRUSTED_PROXIES", "0")),
        # public QR links (see survey/services/public.py): forms per link that one browser may
        # start a day, one user agent + network a day (phones of a model share an agent, so
        # higher), one network prefix an hour; and a new link's daily cap
        "PUBLIC_PER_DEVICE_PER_DAY": int(env.get("PAR_SURVEY_PUBLIC_PER_DEVICE_PER_DAY", "3")),
        "PUBLIC_PER_AGENT_PER_DAY": int(env.get("PAR_SURVEY_PUBLIC_PER_AGENT_PER_DAY", "20")),
        "PUBLIC_PER_NETWORK_PER_HOUR": int(env.get("PAR_SURVEY_PUBLIC_PER_NETWORK_PER_HOUR", "60")),
        "PUBLIC_DAILY_CAP": int(env.get("PAR_SURVEY_PUBLIC_DAILY_CAP", "300")),
        # the mail server (smtp://user:pass@host:587?starttls=1), the sender, and the sending
        # rate shared by all workers (see survey/services/mail.py)
        "SMTP_URL": env.get("PAR_SURVEY_SMTP_URL"),
        "MAIL_FROM": env.get("PAR_SURVEY_MAIL_FROM"),
        "MAIL_RATE_PER_MINUTE": int(env.get("PAR_SURVEY_MAIL_RATE_PER_MINUTE", "300")),
        # API calls one token may make a minute (survey/api/)
        "API_RATE_PER_MINUTE": int(env.get("PAR_SURVEY_API_RATE_PER_MINUTE", "600")),
    }
