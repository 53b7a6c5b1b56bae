"""Keep credentials out of every log line: tokens, tickets, session ids, Authorization values.

Servers log request paths with their query string (uvicorn's access log writes
``WebSocket /ws/documents/<id>/?token=<key>``; at ``trace`` level it also logs
the ASGI scope with its headers). ``RedactSecrets`` is a logging filter that
rewrites a record's message and arguments with the secret values replaced::

    GET /ws/documents/42/?token=9944b0... -> GET /ws/documents/42/?token=[redacted]

Django's SQL log (``django.db.backends`` at DEBUG, with DEBUG on), where an
operator turns it on, shows statements on the token and session tables
without their parameters. It sits on Django's own handler (``LOGGING`` in ``project.settings``), and
``install()`` (run from ``CollabConfig.ready``) adds it to every handler that
the server software configured before Django started (uvicorn's, or a
``--log-config`` of your own) and wraps daphne's access log, which writes to a
stream without the ``logging`` module.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

# query parameters and cookies that carry credentials
_PARAMS = re.compile(r"(?i)\b(token|ticket|sessionid|csrftoken)=([^&\s;'\"\\,)]+)")
# "Authorization: Token <key>", in a header dump or an ASGI scope's header list
_AUTH = re.compile(r"(?i)\b(token|bearer|basic)(\s+)([A-Za-z0-9._~+/=-]{16,})")
# a message template whose credential is a %-placeholder ("?token=%s"): the secret is an argument
# that carries no "token=" of its own, so only the formatted line can be redacted
_TEMPLATED = re.compile(r"(?i)\b(?:(?:token|ticket|sessionid|csrftoken)=|(?:token|bearer|basic)\s+)%")


def redact(text: str) -> str:
    """``text`` with every credential value replaced by ``[redacted]``."""
    if "=" not in text and " " not in text:
        return text
    text = _PARAMS.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    return _AUTH.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def _clean(value: Any) -> Any:
    """A log argument, redacted; one that is not a string stays itself unless its text leaks."""
    if isinstance(value, (int, float)) or value is None:
        return value
    if isinstance(value, bytes):
        value = value.decode("latin1")
    text = value if isinstance(value, str) else str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


# Django's SQL log prints query parameters: a statement
# on these tables carries a token or a session key, so it is logged without them
_CREDENTIAL_TABLES = ("authtoken_token", "django_session")


def _redact_sql(record: logging.LogRecord) -> None:
    sql = str(getattr(record, "sql", ""))
    if any(table in sql for table in _CREDENTIAL_TABLES):
        table = next(t for t in _CREDENTIAL_TABLES if t in sql)
        redacted = f"[a statement on {table}, redacted]"
        record.sql = redacted
        record.params = ()
        record.msg = "(%.3f) %s; alias=%s"
        record.args = (float(getattr(record, "duration", 0.0)), redacted, getattr(record, "alias", ""))


class RedactSecrets(logging.Filter):
    """Rewrites the record in place (the message and each argument); never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "sql"):
            _redact_sql(record)
        if isinstance(record.msg, str) and record.args and _TEMPLATED.search(record.msg):
            _format_then_redact(record)
            return True
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        args = record.args
        if isinstance(args, Mapping):
            record.args = {key: _clean(value) for key, value in args.items()}
        elif isinstance(args, tuple):
            # same length and order: formatters such as uvicorn's AccessFormatter unpack them
            record.args = tuple(_clean(value) for value in args)
        return True


def _format_then_redact(record: logging.LogRecord) -> None:
    """Replace the template and its arguments by the redacted line.

    Redacting the template alone would swallow the placeholder, and the handler's "Logging
    error" report would then print the arguments, the secret among them.
    """
    try:
        line = record.getMessage()
    except (TypeError, ValueError, KeyError):
        # a template that does not fit its arguments: log the template, never the arguments
        line = f"{record.msg} [arguments withheld: the template did not fit them]"
    record.msg = redact(line)
    record.args = None


FILTER = RedactSecrets()


def _handlers() -> list[logging.Handler]:
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    return [handler for lg in loggers for handler in lg.handlers]


def _wrap_daphne_access_log() -> None:
    try:
        from daphne.access import AccessLogGenerator
    except ImportError:  # daphne is not installed: nothing to wrap
        return
    write_entry = AccessLogGenerator.write_entry
    if getattr(write_entry, "redacts", False):
        return

    def redacting_write_entry(self: Any, host: Any, date: Any, request: Any, *args: Any, **kw: Any) -> Any:
        return write_entry(self, host, date, redact(str(request)), *args, **kw)

    redacting_write_entry.redacts = True  # type: ignore[attr-defined]
    AccessLogGenerator.write_entry = redacting_write_entry


def install() -> None:
    """Redact on every handler configured so far, and in daphne's access log (idempotent)."""
    for handler in _handlers():
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(FILTER)
    _wrap_daphne_access_log()
