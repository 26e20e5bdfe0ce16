import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
application = get_wsgi_application()
# Import the URL modules now, as the worker starts, rather than on its first request:
# building the API's schemas takes seconds, which that request would otherwise wait.
import_module(settings.ROOT_URLCONF)
# What is loaded by now (Django, the apps, the URL modules and the API's schemas: some
# 170,000 objects) lives as long as the process. Frozen, it is left out of the cyclic
# collector's full passes, which otherwise walk all of it every few seconds under load
# and stop every thread of the worker for 70 to 120 ms each time: they were the customer
# page's slowest answers (`make bench`, portal_view).
gc.freeze()
