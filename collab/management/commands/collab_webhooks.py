"""``manage.py collab_webhooks``: the webhook delivery worker as a process of its own.

Run it when the server processes do not (``COLLAB_WEBHOOKS_WORKER=off``), or
beside them: workers share the outbox safely. ``--once`` makes one pass and
exits (cron, tests). SIGTERM and SIGINT stop it after the current pass; a
delivery cut short is sent again once its lease runs out.
"""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand

from collab.webhooks.worker import Worker


class Command(BaseCommand):
    help = "Deliver webhook events from the outbox (runs until stopped; --once: one pass)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        worker = Worker()
        if options["once"]:
            count = worker.run_once()
            self.stdout.write(f"{count} deliveries made or attempted")
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: worker.stop())
        self.stdout.write("delivering webhooks (Ctrl-C to stop)")
        self.stdout.flush()
        worker.run_forever()
