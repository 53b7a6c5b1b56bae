"""Group commit: edits to one document that arrive while a commit runs go into the next transaction.

Each process keeps one ``Committer`` per document with live editors. An edit
is queued (the connection goes on reading, so a client that pipelines edits
gets them committed together); a single task drains the queue, commits up to
``GROUP_COMMIT_MAX`` edits in one ``database_sync_to_async`` call (one
transaction, each edit its own version), publishes what committed, and then
resolves each waiter with its own outcome. Nothing is acked or broadcast
before its transaction commits: the committer owns that transaction (it runs
outside any other), so it publishes directly once ``commit_unpublished``
returns. Synchronous writers (REST, admin) publish through ``editing.commit``
and its ``ops_committed`` signal instead.
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async

from collab import editing
from collab.conf import collab_settings
from collab.editing import EditRequest, Outcome
from collab.realtime.hub import hub
from collab.text.events import OpsCommitted

_commit = database_sync_to_async(editing.commit_unpublished)


class Committer:
    def __init__(self, document_id: str) -> None:
        self.document_id = document_id
        self.queue: list[tuple[EditRequest, asyncio.Future[Outcome]]] = []
        self.task: asyncio.Task[None] | None = None

    def enqueue(self, request: EditRequest) -> asyncio.Future[Outcome]:
        """Queue an edit; the future resolves (after publish) with its outcome."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self.queue.append((request, future))
        if self.task is None:
            self.task = loop.create_task(self._drain())
        return future

    async def submit(self, request: EditRequest) -> Outcome:
        return await self.enqueue(request)

    async def _drain(self) -> None:
        limit = int(collab_settings["GROUP_COMMIT_MAX"])
        try:
            while self.queue:
                batch, self.queue = self.queue[:limit], self.queue[limit:]
                try:
                    outcomes = await _commit(self.document_id, [r for r, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                if fresh := editing.fresh(outcomes):
                    await hub().publish(self.document_id, OpsCommitted.of(self.document_id, fresh))
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if not future.done():
                        future.set_result(outcome)
        finally:
            self.task = None
            if not self.queue and _committers.get(self.document_id) is self:
                del _committers[self.document_id]  # made again by the next edit


_committers: dict[str, Committer] = {}


def committer(document_id: str) -> Committer:
    found = _committers.get(document_id)
    if found is None:
        found = _committers[document_id] = Committer(document_id)
    return found


def reset() -> None:
    _committers.clear()
