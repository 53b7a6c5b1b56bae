"""One JSON object per log line, when ``COLLAB_LOG_FORMAT=json`` asks for it.

Each line carries ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``
and every structured field the record was given (``extra=``: the connection
and commit lines of ``collab.connection_log`` and ``collab.metrics``), plus
``exception`` when there is one::

    {"time": "2026-12-04T18:40:02.114Z", "level": "INFO", "logger": "collab.connections",
     "message": "connection closed ...", "event": "connection.close", "endpoint": "text",
     "document": "3f2a...", "user_id": 7, "role": "editor", "duration": 12.41, "code": 1000,
     "frames_in": 31, "frames_out": 58}

It formats what the redacting filter (``collab.log_redaction``) already
cleaned, and redacts the structured fields' text the same way.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

from collab.log_redaction import redact

# attributes every LogRecord has: anything else on a record came from ``extra=``
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}


def _value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _value(v) for k, v in value.items()}
    return redact(str(value))


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):  # a template the redaction changed ("token=%s"): its arguments
        return str(record.msg)  # may be the very secret, so the redacted template alone


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        out: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(_message(record)),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out:
                out[key] = _value(value)
        if record.exc_info:
            out["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)
