"""Test helpers: live server processes (``live``), a WebSocket editor (``wsclient``), service
detection (``services``), fakes for the realtime core (``fakes``), what was published after commit
(``publications``)."""
