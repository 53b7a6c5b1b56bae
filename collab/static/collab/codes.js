// @ts-check
/**
 * The wire's code vocabulary, shared with the server and the Python client.
 * Generated from collab/codes.py by `python scripts/export_codes.py`: do not edit.
 * @module
 */

const CODES = {
  "error_codes": {
    "INVALID_JSON": "invalid_json",
    "INVALID_MESSAGE": "invalid_message",
    "UNKNOWN_TYPE": "unknown_type",
    "MESSAGE_TOO_LARGE": "message_too_large",
    "RATE_LIMITED": "rate_limited",
    "FORBIDDEN": "forbidden",
    "INVALID_OP": "invalid_op",
    "VERSION_AHEAD": "version_ahead",
    "HISTORY_UNAVAILABLE": "history_unavailable",
    "DOCUMENT_TOO_LARGE": "document_too_large",
    "SERVER_ERROR": "server_error",
    "UNAUTHORIZED": "unauthorized",
    "NOT_FOUND": "not_found",
    "ACCESS_REVOKED": "access_revoked",
    "DOCUMENT_DELETED": "document_deleted",
    "TOO_SLOW": "too_slow",
    "PROTOCOL_ABUSE": "protocol_abuse",
    "SESSION_CLOSED": "session_closed",
    "WRONG_KIND": "wrong_kind"
  },
  "close_codes": {
    "NORMAL": 1000,
    "GOING_AWAY": 1001,
    "NO_STATUS": 1005,
    "ABNORMAL": 1006,
    "SERVER_ERROR": 1011,
    "SERVICE_RESTART": 1012,
    "TRY_AGAIN_LATER": 1013,
    "CLIENT_RECONNECTING": 4000,
    "CLOSED_BY_ADMIN": 4001,
    "PROTOCOL_ABUSE": 4400,
    "UNAUTHORIZED": 4401,
    "ACCESS_REVOKED": 4403,
    "NOT_FOUND": 4404,
    "TOO_SLOW": 4408,
    "DOCUMENT_DELETED": 4410,
    "TOO_LARGE": 4413,
    "WRONG_KIND": 4415,
    "RATE_LIMITED": 4429
  },
  "reconnect": [
    1001,
    1005,
    1006,
    1011,
    1012,
    1013,
    4408
  ],
  "close_errors": {
    "1011": "server_error",
    "4001": "session_closed",
    "4400": "protocol_abuse",
    "4401": "unauthorized",
    "4403": "access_revoked",
    "4404": "not_found",
    "4408": "too_slow",
    "4410": "document_deleted",
    "4413": "document_too_large",
    "4415": "wrong_kind",
    "4429": "rate_limited"
  },
  "close_names": {
    "1000": "normal closure",
    "1001": "server going away",
    "1005": "no status code",
    "1006": "connection lost",
    "1011": "server error",
    "1012": "service restart",
    "1013": "try again later",
    "4000": "reconnecting",
    "4001": "closed by an administrator",
    "4400": "protocol abuse",
    "4401": "unauthorized",
    "4403": "access revoked",
    "4404": "not found",
    "4408": "too slow to keep up",
    "4410": "document deleted",
    "4413": "too large",
    "4415": "wrong document kind",
    "4429": "rate-limit abuse"
  }
};

/** Error codes of `error` frames, by name. */
export const ErrorCode = Object.freeze(CODES.error_codes);
/** WebSocket close codes, by name. */
export const CloseCode = Object.freeze(CODES.close_codes);
/** Close codes after which a client reconnects; it gives up after any other. */
export const RECONNECT_CODES = new Set(CODES.reconnect);
/** The error code the server sends just before closing with a code. */
export const CLOSE_ERRORS = /** @type {Readonly<Record<number, string>>} */ (Object.freeze(CODES.close_errors));
/** A few words about each close code, for logs. */
export const CLOSE_NAMES = /** @type {Readonly<Record<number, string>>} */ (Object.freeze(CODES.close_names));
