"""Page-number pagination: ``{"count", "next", "previous", "results"}``, ``?page_size=`` up to 100."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
