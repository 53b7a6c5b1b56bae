"""collab: a Django-native real-time collaboration backend (documents, OT, presence)."""
