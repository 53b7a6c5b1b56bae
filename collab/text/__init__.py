"""The text kind (PROTOCOL.md sections 1, 4 and 5): OT edits with versions, acks, ops and sync,
cursors in code points; built on ``collab.realtime``."""
