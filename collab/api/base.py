"""What collab's API views fix for themselves, whatever the host's ``REST_FRAMEWORK`` says.

A host project may default to other authentication (JWT only), permissions
(``IsAdminUser``), pagination, renderers (camelCase JSON), versioning or
exception handlers; collab's wire format and rules do not change with them.
Every collab view inherits ``CollabAPIView`` (or mixes in ``CollabAPI``)::

    class WsTicketView(CollabAPIView): ...

Throttling is left to the host (``DEFAULT_THROTTLE_CLASSES`` applies).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rest_framework.authentication import BaseAuthentication, SessionAuthentication, TokenAuthentication
from rest_framework.filters import BaseFilterBackend
from rest_framework.metadata import BaseMetadata, SimpleMetadata
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.pagination import BasePagination
from rest_framework.parsers import BaseParser, FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, BasePermission, OperandHolder, SingleOperandHolder
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.schemas.inspectors import ViewInspector
from rest_framework.versioning import BaseVersioning
from rest_framework.views import APIView

from collab.api.errors import exception_handler
from collab.api.pagination import Pagination
from collab.api.schema import CollabAutoSchema

if TYPE_CHECKING:
    from rest_framework.generics import BaseFilterProtocol  # a Protocol of the stubs only


class CollabAPI:
    # Class attributes for a DRF view (mixed in before the DRF class). No docstring: drf-spectacular
    # would take it as the description of every operation of the views that mix it in.

    # Token first: its WWW-Authenticate header makes "not signed in" a 401.
    # Annotated as APIView and GenericAPIView declare them, so that views may override them.
    authentication_classes: Sequence[type[BaseAuthentication]] = [TokenAuthentication, SessionAuthentication]
    permission_classes: Sequence[type[BasePermission] | OperandHolder | SingleOperandHolder] = [AllowAny]
    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer, BrowsableAPIRenderer]
    parser_classes: Sequence[type[BaseParser]] = [JSONParser, FormParser, MultiPartParser]
    pagination_class: type[BasePagination] | None = Pagination
    filter_backends: Sequence[type[BaseFilterBackend | BaseFilterProtocol[Any]]] = []
    versioning_class: type[BaseVersioning] | None = None
    content_negotiation_class: type[BaseContentNegotiation] = DefaultContentNegotiation
    metadata_class: str | type[BaseMetadata] | None = SimpleMetadata
    schema: ViewInspector | None = CollabAutoSchema()

    def get_exception_handler(self) -> Any:
        return exception_handler


class CollabAPIView(CollabAPI, APIView):
    """An ``APIView`` with collab's own DRF settings."""
