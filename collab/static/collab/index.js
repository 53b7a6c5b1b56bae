// @ts-check
/**
 * Everything an editor frontend needs, in one import:
 *
 *     import { CollabClient, bindTextarea } from "/static/collab/index.js";
 *
 * See docs/embedding.md.
 * @module
 */

export { CollabClient, backoffDelay, websocketUrl } from "./client.js";
export * as ot from "./ot.js";
export { OTClient } from "./otclient.js";
export { PresenceRoom } from "./presence.js";
export { CLOSE_ERRORS, CloseCode, ErrorCode, RECONNECT_CODES } from "./codes.js";
export { CLOSE_MESSAGES, Session, randomClientId } from "./session.js";
export { cpLength, cpSlice, cpToUtf16, diffAround, utf16Changes, utf16ToCp } from "./text.js";
export { bindTextarea, changeEnd, drawCursors } from "./textarea.js";
export { UndoManager } from "./undo.js";
