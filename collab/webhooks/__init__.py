"""Signed webhooks from a durable outbox: subscriptions, the outbox, signing, the delivery worker.

A change and its event are written in one transaction (``outbox``); a worker
(``worker``: a thread of each server process, or ``manage.py collab_webhooks``)
turns due events into one delivery per matching subscription and POSTs them,
signed (``signing``), retrying with backoff until they succeed or time out.
docs/operations.md describes the payloads and how to verify a signature.
"""
