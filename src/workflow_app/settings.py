"""Every setting the app reads from its environment, in one place, each from `WORKFLOW_APP_<NAME>`.

| variable | default | what it sets |
|---|---|---|
| `WORKFLOW_APP_SECRET_KEY` | none: the web app refuses to start without one (outside debugging and tests) | signs sessions and CSRF tokens |
| `WORKFLOW_APP_RUN_SCHEDULER` | off: the web process fires no timers (a `workflow-app scheduler` process does; `workflow-app serve` runs one inside itself) | `1`: each web process runs its own timer scheduler |
| `WORKFLOW_APP_SECURE_COOKIES` | Secure unless debugging or testing | `0` for plain http away from 127.0.0.1 |
| `WORKFLOW_APP_DATABASE_URL` | SQLite in the instance folder | the database (PostgreSQL in production) |
| `WORKFLOW_APP_INSTANCE` | `./instance` | the instance folder |
| `WORKFLOW_APP_PROCESSES` | `./processes` | the landlords' folders |
| `WORKFLOW_APP_FORMS` | `./forms` | the shared forms |
| `WORKFLOW_APP_NOW` | the system clock | a frozen time for rehearsals (never production) |
| `WORKFLOW_APP_SMTP_HOST`, `_PORT`, `_USERNAME`, `_PASSWORD`, `_FROM`, `_STARTTLS`, `_SSL` | no email | the server letters are emailed through (the web processes queue, the scheduler processes send) |

`load()` reads the environment as it is now: each entry point (the app factory, a CLI
command, the scheduler) reads it once and passes the values on. Nothing else reads
`os.environ` for the app's settings.
"""  # noqa: E501  (a Markdown table: its rows cannot wrap)
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "WORKFLOW_APP_"
SECRET_KEY_VARIABLE = f"{PREFIX}SECRET_KEY"
UNSAFE_SECRETS = ("", "dev")
"""Values that are no secret: the app refuses them as it refuses no value at all."""

_FALSE = ("0", "false", "no", "off")


class InsecureSettings(RuntimeError):
    """The app would run with a setting no deployment may have (no secret key)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    secret_key: str | None = None
    run_scheduler: bool = False
    secure_cookies: bool | None = None
    database_url: str | None = None
    instance: Path = Path("instance")
    processes: Path = Path("processes")
    forms: Path = Path("forms")
    now: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False

    @field_validator("run_scheduler", mode="before")
    @classmethod
    def _on_unless_zero(cls, value: Any) -> Any:
        """Set, anything but `0` turns the scheduler on (as before the settings had a module); unset, it is off."""
        if value is None or isinstance(value, bool):   # unset: the default (validated too)
            return bool(value)
        return str(value).strip() != "0"

    @field_validator("secure_cookies", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: Any) -> Any:
        if value is None or str(value).strip() == "":
            return None
        return str(value).strip().lower() not in _FALSE

    @field_validator("smtp_starttls", "smtp_ssl", mode="before")
    @classmethod
    def _only_yes_is_on(cls, value: Any) -> Any:
        return str(value or "").strip().lower() in ("1", "true", "yes")

    @field_validator("smtp_port", mode="before")
    @classmethod
    def _port_default(cls, value: Any) -> Any:
        return 25 if value in (None, "") else value

    @field_validator("secret_key", "database_url", "now", "smtp_host", "smtp_username", "smtp_password",
                     "smtp_from", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    def secret_is_usable(self) -> bool:
        return usable_secret(self.secret_key)

    def smtp_values(self) -> dict[str, Any]:
        """The SMTP settings that are set, under their variables' names (what `SmtpSettings.from_mapping` reads)."""
        given = self.model_fields_set
        values = {"HOST": self.smtp_host, "PORT": self.smtp_port, "USERNAME": self.smtp_username,
                  "PASSWORD": self.smtp_password, "FROM": self.smtp_from,
                  "STARTTLS": "1" if self.smtp_starttls else "0", "SSL": "1" if self.smtp_ssl else "0"}
        return {f"{PREFIX}SMTP_{name}": value for name, value in values.items()
                if f"smtp_{name.lower()}" in given and value is not None}


def usable_secret(value: object) -> bool:
    return isinstance(value, (str, bytes)) and value not in UNSAFE_SECRETS and value != b""


def load() -> Settings:
    """The settings from the environment as it is now."""
    return Settings()
