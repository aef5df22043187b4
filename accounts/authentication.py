"""DRF authentication by API token (Authorization: Token <key>), against the hashed keys of accounts.ApiToken."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from accounts.api_tokens import api_token_for_key, api_token_touch
from accounts.throttle import client_ip


class HashedTokenAuthentication(TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        token = api_token_for_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        now = timezone.now()
        if token.is_expired(now):
            when = timezone.localtime(token.expires_at).strftime("%b %d, %Y %H:%M %Z")
            raise exceptions.AuthenticationFailed(
                f"This API token expired on {when}. Create a new one on your API token page ({reverse('api_token')})."
            )
        return token.user, token

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is not None:
            api_token_touch(token=result[1], ip=client_ip(request), now=timezone.now())
        return result
