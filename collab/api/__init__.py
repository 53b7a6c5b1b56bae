"""The REST API (Django REST Framework): documents, history, snapshots, members, presence."""
