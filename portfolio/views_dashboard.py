"""Dashboard pages: the importer dashboard, the broker portfolio (with its XLSX export), the exports page."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import get_template, render_to_string
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from accounts.http import OrgRequest
from accounts.models import Membership, Organization
from accounts.permissions import editor_for_post, member_required
from accounts.selectors import assigned_importer_ids, importers_for
from accounts.services import ServiceError
from accounts.templatetags.money import format_count, format_money
from cape import rules
from cape.build_jobs import declaration_build_job_start
from cape.declarations import declarations_for
from cape.forms import PortfolioBuildForm
from cape.models import Declaration
from cape.selectors import ruleset_changes
from portfolio import dashboard as sel
from portfolio.charts import Bar, bar_chart

PORTFOLIO_PAGE_SIZE = 25  # template rendering dominates the page once the figures are cached
ROWS_HTML_TTL = 600  # rendered rows are keyed by their content: the TTL only bounds memory
PATH_COLORS = {
    rules.Path.CAPE_PHASE1: "#1f5fa8",
    rules.Path.CAPE_PHASE2: "#3a86d1",
    rules.Path.PROTEST: "#b54708",
    rules.Path.CIT: "#7a2e0e",
    rules.Path.WAIT: "#6b7280",
    rules.Path.FILED: "#1a7f37",
    rules.Path.NOT_ELIGIBLE: "#9ca3af",
    rules.Path.NEEDS_REVIEW: "#9a6700",
}


def _org(request: OrgRequest) -> Organization:
    return request.organization


class PortfolioFilterForm(forms.Form):
    q = forms.CharField(label="Search name or IR number (importer of record number)", required=False, max_length=100)
    not_ready = forms.BooleanField(label="Not ready", required=False)
    no_ach = forms.BooleanField(label="No ACH refund route", required=False)
    urgent = forms.BooleanField(label="Has a deadline within 14 days", required=False)
    mine = forms.BooleanField(label="My clients only", required=False)
    follow_up_due = forms.BooleanField(label="Follow-up due", required=False)
    sort = forms.ChoiceField(label="Sort by", required=False, choices=list(sel.PORTFOLIO_SORTS.items()))

    def __init__(self, *args: Any, organization: Organization | None = None, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization, self.user = organization, user

    def filters(self) -> sel.PortfolioFilters:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        mine = bool(data.get("mine")) and self.user is not None
        return sel.PortfolioFilters(
            q=(data.get("q") or "").strip(),
            not_ready=bool(data.get("not_ready")),
            no_ach=bool(data.get("no_ach")),
            urgent=bool(data.get("urgent")),
            sort=data.get("sort") or "name",
            mine_ids=frozenset(assigned_importer_ids(self.organization, self.user)) if mine else None,
            follow_up_due=bool(data.get("follow_up_due")),
        )


def _query(request: OrgRequest, drop: tuple[str, ...] = ("page",)) -> str:
    return urlencode([(k, v) for k, v in request.GET.items() if k not in drop and v != ""])


def _chart(totals: list[Any]) -> Any:
    bars = [
        Bar(t.label, t.ieepa_duty, f"{t.count:,} entr{'y' if t.count == 1 else 'ies'}", PATH_COLORS.get(t.path, ""))
        for t in totals
    ]
    return bar_chart(
        bars,
        title="IEEPA duty by refund path",
        desc="; ".join(f"{t.label}: {format_money(t.ieepa_duty)} on {format_count(t.count)} entr{'y' if t.count == 1 else 'ies'}"
                       for t in totals),
        chart_id="duty-by-path",
    )


@editor_for_post
def dashboard(request: OrgRequest) -> HttpResponse:
    """The landing page: the broker portfolio for a broker, the importer dashboard for an importer organisation.
    POST (editors, brokers): build CAPE files for the importers ticked in the portfolio."""
    org = _org(request)
    if org.kind == Organization.Kind.BROKER:
        if request.method == "POST":
            return _portfolio_build(request, org)
        return _portfolio(request, org)
    if request.method == "POST":
        return HttpResponseNotAllowed(["GET"])
    return _importer_page(request, org, None)


@member_required
def client_dashboard(request: OrgRequest, pk: int) -> HttpResponse:
    """One importer's dashboard (a broker looking at one client, or an organisation with several importers)."""
    org = _org(request)
    importer = get_object_or_404(importers_for(org), pk=pk)
    return _importer_page(request, org, importer)


def _ruleset_notice(request: OrgRequest, org: Organization) -> Any:
    """What the current ruleset changed in this organisation's paths, told once to each member: returned
    (and marked as told) the first time there is something to tell, None afterwards."""
    membership = getattr(request, "membership", None)
    if request.method != "GET" or membership is None or membership.ruleset_notice_seen == rules.RULESET:
        return None
    changes = ruleset_changes(org, rules.RULESET)
    if not changes.count:
        return None
    Membership.objects.filter(pk=membership.pk).update(ruleset_notice_seen=rules.RULESET)
    membership.ruleset_notice_seen = rules.RULESET
    return changes


def _importer_page(request: OrgRequest, org: Organization, importer: Any) -> HttpResponse:
    dash = sel.importer_dashboard(org, importer)
    return render(
        request,
        "dashboard/importer.html",
        {
            "dash": dash,
            "importer": importer,
            "chart": _chart(dash.totals),
            "path_labels": rules.PATH_LABELS,
            "is_broker": org.kind == Organization.Kind.BROKER,
            "ruleset_notice": _ruleset_notice(request, org),
        },
    )


def _portfolio_build(request: OrgRequest, org: Organization) -> HttpResponse:
    """The bulk build. An empty selection is refused beside the button (it used to build for every importer)."""
    build_form = PortfolioBuildForm(request.POST, organization=org)
    if build_form.is_valid():
        try:
            job = declaration_build_job_start(
                organization=org, user=request.user, importer_ids=build_form.importer_ids(),
                paths=[str(p) for p in rules.CAPE_PATHS],
            )
        except ServiceError as exc:
            build_form.add_error("importers", exc.message)
        else:
            return redirect("cape_build_job", pk=job.pk)  # the result, or the progress of a large build
    return _portfolio(request, org, build_form=build_form, status=400)


ROW_TEMPLATE = "dashboard/portfolio_row.html"


@lru_cache(maxsize=1)
def _row_template_digest() -> str:
    return hashlib.sha256(get_template(ROW_TEMPLATE).template.source.encode()).hexdigest()[:16]  # type: ignore[attr-defined]  # the Django engine's wraps a Template


def _rows_html(portfolio: sel.Portfolio, rows: list[sel.PortfolioRow], *, can_edit: bool,
               selected_ids: set[str]) -> list[str]:
    """The page's table rows, rendered once and kept under a key made of everything they show.

    Rendering 25 rows was most of the portfolio's time once its figures are cached. The key is the
    portfolio's state digest (portfolio.dashboard._portfolio_state: equal digests, equal rows) with
    the rows' importers, the editor flag and the row template's source, so a change to any of them
    renders again: nothing to invalidate, and a stale row cannot be served. Ticked boxes (the page
    shown again after a refused build) are rendered as they are."""
    if not rows:
        return []
    context = {"can_edit": can_edit, "selected_ids": selected_ids}
    if selected_ids or not portfolio.state:
        return [render_to_string(ROW_TEMPLATE, {"r": r, **context}) for r in rows]
    pks = ",".join(str(r.importer.pk) for r in rows)
    raw = f"{portfolio.state}|{_row_template_digest()}|{can_edit}|{pks}"
    key = "dashboard:rows:" + hashlib.sha256(raw.encode()).hexdigest()
    html = cache.get(key)
    if html is None:
        html = [render_to_string(ROW_TEMPLATE, {"r": r, **context}) for r in rows]
        cache.set(key, html, ROWS_HTML_TTL)
    return html


def _portfolio(request: OrgRequest, org: Organization, *, build_form: PortfolioBuildForm | None = None,
               status: int = 200) -> HttpResponse:
    form = PortfolioFilterForm(request.GET or None, organization=org, user=request.user)
    portfolio = sel.portfolio_for(org, form.filters())
    page = Paginator(portfolio.rows, PORTFOLIO_PAGE_SIZE).get_page(request.GET.get("page"))
    selected_ids = {str(i) for i in request.POST.getlist("importers")} if build_form is not None else set()
    can_edit = bool(request.membership.can_edit)

    def rows_html() -> list[str]:  # called by the template when it reaches the table
        return _rows_html(portfolio, list(page), can_edit=can_edit, selected_ids=selected_ids)

    return render(
        request,
        "dashboard/portfolio.html",
        {
            "form": form,
            "portfolio": portfolio,
            "page": page,
            "totals": portfolio.totals,
            "paths": rules.PATHS,
            "path_labels": rules.PATH_LABELS,
            "query_string": _query(request),
            "export_query": _query(request),
            "build_form": build_form,
            "build_errors": build_form.errors.get("importers", []) if build_form is not None else [],
            "rows_html": rows_html,
            "ruleset_notice": _ruleset_notice(request, org),
        },
        status=status,
    )


@member_required
@require_GET
def portfolio_export(request: OrgRequest) -> HttpResponse:
    """The portfolio (with the page's filters and sort) as an XLSX workbook."""
    form = PortfolioFilterForm(request.GET or None, organization=_org(request), user=request.user)
    data = sel.portfolio_xlsx(sel.portfolio_for(_org(request), form.filters()))
    response = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = content_disposition_header(True, f"refundready-portfolio-{timezone.localdate():%Y%m%d}.xlsx")
    return response


@member_required
@require_GET
def exports(request: OrgRequest) -> HttpResponse:
    """Everything compliance staff take away (viewers included): CAPE files already exported, the
    workbook, a readiness PDF per importer, the deadline calendar."""
    org = _org(request)
    declarations = (
        declarations_for(org)
        .exclude(status=Declaration.Status.DRAFT)
        .exclude(file_bytes__isnull=True)
        .select_related("importer")
        .order_by("-exported_at", "-pk")
    )
    page = Paginator(declarations.defer("file_bytes", "preflight"), 25).get_page(request.GET.get("page"))
    importers = importers_for(org).order_by("name", "ir_number")
    imp_page = Paginator(importers, 50).get_page(request.GET.get("ipage"))
    return render(request, "dashboard/exports.html", {"page": page, "importers": imp_page, "all_importers": importers})
