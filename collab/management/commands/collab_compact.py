"""``manage.py collab_compact``: fold history older than the retention into snapshots (safe while live).

Run it from cron or a scheduler (daily is plenty); it needs no other process
and can run while clients are connected. See ``collab.compaction`` and
docs/history.md::

    python manage.py collab_compact                    # COLLAB_HISTORY_RETENTION (30 days)
    python manage.py collab_compact --retention 3600   # keep one hour of ops
    python manage.py collab_compact --document <uuid>
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from collab import compaction


class Command(BaseCommand):
    help = "Compose ops older than the retention into snapshots; pin idle documents' latest state."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--retention",
            type=float,
            default=None,
            help="seconds of ops to keep (default: COLLAB_HISTORY_RETENTION; 0 keeps every op)",
        )
        parser.add_argument("--document", action="append", default=[], help="only this document (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        reports = compaction.compact_all(retention=options["retention"], ids=options["document"] or None)
        for r in reports:
            parts = []
            if r.floor is not None:
                parts.append(f"history now starts at v{r.floor} ({r.ops_deleted} ops folded into a snapshot)")
            if r.yjs_snapshot is not None:
                parts.append(f"update log merged into a snapshot at v{r.yjs_snapshot}")
            if r.automatic_deleted:
                parts.append(f"{r.automatic_deleted} old automatic versions dropped")
            if r.pinned is not None:
                parts.append(f"idle: v{r.pinned} kept as an automatic version")
            self.stdout.write(f"{r.document_id}: " + "; ".join(parts))
        self.stdout.write(f"{len(reports)} document(s) compacted.")
