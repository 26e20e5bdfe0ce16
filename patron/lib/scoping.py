"""The tenant scope on models: every business model's manager is scoped by merchant.

With django-scopes, `Model.objects` refuses to run a query unless a merchant scope is
active (`with scope(merchant=...)`, opened by TenantMiddleware for requests and by
each task for background work). That is what makes a forgotten merchant filter fail
loudly instead of leaking another merchant's rows.
"""

from typing import Any

from django_scopes import ScopedManager


def merchant_scoped_manager() -> Any:
    # Typed as Any: the manager class is built at run time, which the Django type
    # checker plugin cannot follow; each model annotates `objects` with its own type.
    return ScopedManager(merchant="merchant")
