"""App config: ``ready()`` only wires system checks, signals and log redaction."""

from __future__ import annotations

from django.apps import AppConfig


class CollabConfig(AppConfig):
    name = "collab"
    verbose_name = "Collaboration"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from collab import log_redaction

        log_redaction.install()  # the servers' own log handlers redact credentials too
        from collab import checks, signals  # noqa: F401  (registers checks and receivers)
        from collab.realtime import credentials  # noqa: F401  (closes sockets whose credentials end)
        from collab.webhooks import receivers  # noqa: F401
