"""Yjs documents: the y-websocket and Hocuspocus protocols over pycrdt state (PROTOCOL.md section 8).

``codec`` frames messages, ``storage`` keeps the update log and snapshots,
``documents`` serves REST and the admin, ``room`` is the live document of a
process, ``awareness`` its presence states, ``bus`` its link to the other
processes, and ``consumers`` the two WebSocket endpoints.
"""
