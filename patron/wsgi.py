import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
application = get_wsgi_application()
# Import the URL modules now, as the worker starts, rather than on its first request:
# building the API's schemas takes seconds, which that request would otherwise wait.
import_module(settings.ROOT_URLCONF)
