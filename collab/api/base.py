"""What collab's API views fix for themselves, whatever the host's ``REST_FRAMEWORK`` says.

A host project may default to other authentication (JWT only), permissions
(``IsAdminUser``), pagination, renderers (camelCase JSON), versioning or
exception handlers; collab's wire format and rules do not change with them.
Every collab view inherits ``CollabAPIView`` (or mixes in ``CollabAPI``)::

    class WsTicketView(CollabAPIView): ...

Throttling is left to the host (``DEFAULT_THROTTLE_CLASSES`` applies).
"""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.metadata import SimpleMetadata
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.views import APIView

from collab.api.errors import exception_handler
from collab.api.pagination import Pagination
from collab.api.schema import CollabAutoSchema


class CollabAPI:
    # Class attributes for a DRF view (mixed in before the DRF class). No docstring: drf-spectacular
    # would take it as the description of every operation of the views that mix it in.

    # Token first: its WWW-Authenticate header makes "not signed in" a 401.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    pagination_class = Pagination
    filter_backends: list[Any] = []
    versioning_class = None
    content_negotiation_class = DefaultContentNegotiation
    metadata_class = SimpleMetadata
    schema = CollabAutoSchema()

    def get_exception_handler(self) -> Any:
        return exception_handler


class CollabAPIView(CollabAPI, APIView):
    """An ``APIView`` with collab's own DRF settings."""
