"""The root URLconf (settings.ROOT_URLCONF): the top layer, which may include every app's URLs. Where two
apps share a prefix (/entries/, /cape/, /accounts/, /onboarding/, /organization/, /api/) each includes its own paths."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as account_views


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico on pages without a <link rel="icon"> (JSON, PDF): answer, don't 404."""
    return HttpResponseRedirect(static("favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("", account_views.home, name="home"),
    path("dashboard/", include("portfolio.urls_dashboard")),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("portfolio.urls_accounts")),
    path("onboarding/", include("accounts.urls_onboarding")),
    path("onboarding/", include("portfolio.urls_onboarding")),
    path("organization/", include("accounts.urls_org")),
    path("organization/", include("portfolio.urls_org")),
    path("entries/", include("cape.urls_browse")),
    path("entries/", include("entries.urls")),
    path("entries/", include("cape.urls_facts")),
    path("cape/", include("cape.urls")),
    path("cape/", include("portfolio.urls_cape")),
    path("ach/", include("ach.urls")),
    path("protests/", include("protests.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # The split view serves Swagger UI's start-up script from a URL (no inline script: refundready/csp.py).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    path("api/", include("accounts.api")),
    path("api/", include("accounts.api_onboarding")),
    path("api/", include("portfolio.api")),
    path("api/", include("entries.api")),
    path("api/", include("cape.api_entries")),
    path("api/", include("cape.api")),
    path("api/", include("ach.api")),
    path("api/", include("protests.api")),
]
