"""Redirects to a target the request names (``next``): only a path on this site is followed."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def next_path(request: HttpRequest, field: str = "next") -> str:
    """The request's ``next`` (POST, else GET) when it is a path on this site, else "". Refused: other hosts and
    schemes (``https://evil.example``, ``//evil.example``, ``/\\evil.example``, ``javascript:``), and anything not
    starting with ``/`` (a URL name such as ``logout`` would otherwise be reversed by django.shortcuts.redirect)."""
    target = (request.POST.get(field) or request.GET.get(field) or "").strip()
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts=None, require_https=request.is_secure()
    ):
        return target
    return ""


def safe_next_url(request: HttpRequest, fallback: Any, *args: Any, field: str = "next") -> str:
    """``next`` when it is a path on this site, else ``fallback`` (a URL name or path, resolved with ``args``)."""
    return next_path(request, field) or resolve_url(fallback, *args)


def redirect_to_next(request: HttpRequest, fallback: Any, *args: Any, field: str = "next") -> HttpResponseRedirect:
    return HttpResponseRedirect(safe_next_url(request, fallback, *args, field=field))
