"""The collab Django project: settings, URL configuration and the ASGI/WSGI entry points."""
