"""The realtime core, for any document kind: room membership and relay (``hub``), typed room
events (``events``), the per-socket write path (``outbox``), limits, frames, the consumers'
lifecycle and the process runtime (layer listener, presence sweeper, shutdown)."""
