from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language

from patron.api import health
from patron.api.core import api
from patron.api.errors import server_error
from patron.tenants import views as tenant_views

urlpatterns = [
    path("api/v1/", api.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("", tenant_views.home, name="home"),
    path("login/", tenant_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("switch/", tenant_views.switch_merchant, name="switch_merchant"),
    path("password/<uidb64>/<token>/", tenant_views.PasswordSetView.as_view(), name="password_set"),
    path("settings/", include("patron.tenants.urls")),
    path("contacts/", include("patron.contacts.urls")),
    path("loyalty/", include("patron.loyalty.urls")),
    path("rewards/", include("patron.rewards.urls")),
    path("coupons/", include("patron.coupons.urls")),
    path("automations/", include("patron.automations.urls")),
    path("messaging/", include("patron.messaging.urls")),
    path("integrations/", include("patron.integrations.urls")),
    path("reports/", include("patron.reports.urls")),
    path("audit/", include("patron.audit.urls")),
    # The public customer page and widget: /p/<merchant slug>/...
    path("p/", include("patron.portal.urls")),
    path("settings/customer-page/", include("patron.portal.staff_urls")),
]

# A database that is down answers 503 (retry), not 500: see patron/api/errors.py.
handler500 = server_error
