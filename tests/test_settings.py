from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from refundready.env import env_bool, env_float, env_int, env_list
from refundready.logging import redact

ROOT = Path(__file__).resolve().parent.parent


def test_typed_helpers_reject_bad_values(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_BOOL"):
        env_bool("X_BOOL")
    monkeypatch.setenv("X_INT", "12MB")
    with pytest.raises(ImproperlyConfigured, match="X_INT"):
        env_int("X_INT", 1)
    monkeypatch.setenv("X_INT", "-5")
    with pytest.raises(ImproperlyConfigured, match="minimum"):
        env_int("X_INT", 1, minimum=0)
    for bad, message in (("fast", "not a number"), ("nan", "finite"), ("inf", "finite"), ("-1", "minimum")):
        monkeypatch.setenv("X_FLOAT", bad)
        with pytest.raises(ImproperlyConfigured, match=message):
            env_float("X_FLOAT", 1.0, minimum=0)
    monkeypatch.setenv("X_FLOAT", " 2.5 ")
    assert env_float("X_FLOAT", 1.0, minimum=0) == 2.5
    monkeypatch.setenv("X_LIST", "a.com, b.com,")
    assert env_list("X_LIST", []) == ["a.com", "b.com"]


def _settings_subprocess(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "FIELD_ENCRYPTION_KEY", "REDIS_URL", "REDIS_CACHE_URL", "CACHE_DIR", "CELERY_BROKER_URL"}}
    base.update(env)
    base["DJANGO_SETTINGS_MODULE"] = "refundready.settings"
    return subprocess.run([sys.executable, "-c", "import django; django.setup(); from django.conf import settings; " + code],
                          cwd=ROOT, env=base, capture_output=True, text=True, timeout=60)


def test_secret_key_is_required_unless_debug(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = _settings_subprocess({"DEBUG": "false", "DATA_DIR": str(tmp_path)}, "print(1)")
    assert result.returncode != 0 and "SECRET_KEY is required" in result.stderr


def test_database_and_broker_come_from_the_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL, settings.TIME_ZONE)"
    default = _settings_subprocess({"DEBUG": "true", "DATA_DIR": str(tmp_path)}, code)
    assert default.stdout.split() == ["django.db.backends.sqlite3", "filesystem://", "America/New_York"]
    prod = _settings_subprocess(
        {"DEBUG": "true", "DATA_DIR": str(tmp_path), "DATABASE_URL": "postgres://u@db:5432/rr", "REDIS_URL": "redis://r:6379/0"}, code
    )
    assert prod.stdout.split()[:2] == ["django.db.backends.postgresql", "redis://r:6379/0"]
    bad = _settings_subprocess({"DEBUG": "true", "DATA_DIR": str(tmp_path), "DATABASE_URL": "mysql://x/y"}, code)
    assert bad.returncode != 0 and "only sqlite:// and postgres://" in bad.stderr


def test_bad_encryption_keys_fail_loudly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = _settings_subprocess({"DEBUG": "true", "DATA_DIR": str(tmp_path), "FIELD_ENCRYPTION_KEY": "short"}, "print(1)")
    assert result.returncode != 0 and "FIELD_ENCRYPTION_KEY" in result.stderr


def test_deploy_check_is_clean_with_production_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update({"DEBUG": "false", "DATA_DIR": str(tmp_path), "SECRET_KEY": "x" * 60 + "prod-secret-value-with-enough-entropy",
                "ALLOWED_HOSTS": "refunds.example.com",
                "FIELD_ENCRYPTION_KEY": "7Bd0nS8t2H3y1Qe4ZkVgk9o9mUj7b6o3i0r5u8w1y4c=",
                "DJANGO_SETTINGS_MODULE": "refundready.settings"})
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_logs_never_carry_account_or_ssn_numbers() -> None:
    assert redact("acct 123456789012 for 123-45-6789") == "acct ********9012 for ***-**-6789"


def test_healthz_answers_without_login_and_checks_the_database(client, db) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz", HTTP_HOST="not-an-allowed-host")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_redis_keeps_an_unacknowledged_job_longer_than_the_longest_job(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = "print(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get('visibility_timeout'))"
    base = {"DEBUG": "true", "DATA_DIR": str(tmp_path), "REDIS_URL": "redis://r:6379/0"}
    assert _settings_subprocess(base, code).stdout.split() == ["7200"]
    assert _settings_subprocess({**base, "CELERY_VISIBILITY_TIMEOUT": "14400"}, code).stdout.split() == ["14400"]
    bad = _settings_subprocess({**base, "CELERY_VISIBILITY_TIMEOUT": "2h"}, code)
    assert bad.returncode != 0 and "CELERY_VISIBILITY_TIMEOUT" in bad.stderr
    # The embedded broker has no visibility timeout (kombu's filesystem transport does not redeliver).
    assert _settings_subprocess({"DEBUG": "true", "DATA_DIR": str(tmp_path)}, code).stdout.split() == ["None"]


def test_compose_serves_plain_http_without_redirecting_and_checks_beat() -> None:
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["web"]["environment"]["SECURE_SSL_REDIRECT"] == "${SECURE_SSL_REDIRECT:-false}"
    assert services["web"]["environment"]["DATABASE_URL"] == services["worker"]["environment"]["DATABASE_URL"]
    assert all("healthcheck" in services[name] for name in ("db", "redis", "web", "worker", "beat"))
    assert "SECURE_SSL_REDIRECT" in (ROOT / ".env.example").read_text()


def _readme_variables() -> set[str]:
    """Variables named in the first column of README.md's configuration table."""
    import re

    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_every_variable_the_settings_read_is_in_the_readme_table() -> None:
    import re

    source = (ROOT / "refundready" / "settings.py").read_text()
    read = set(re.findall(r"\benv_(?:str|int|bool|list)\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
    assert len(read) > 30  # the pattern still finds the calls
    missing = sorted(read - _readme_variables())
    assert not missing, f"README.md's configuration table has no row for: {missing}"


def test_every_variable_in_the_readme_table_is_read_somewhere() -> None:
    code = "\n".join(
        p.read_text(errors="replace")
        for folder in ("refundready", "accounts", "entries", "cape", "ach", "tests")
        for p in (ROOT / folder).rglob("*.py")
        if p.name != "test_settings.py"
    )
    stale = sorted(name for name in _readme_variables() if f'"{name}"' not in code)
    assert not stale, f"README.md documents variables nothing reads: {stale}"


def test_the_cache_can_have_a_redis_database_of_its_own(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = "print(settings.CACHES['default']['LOCATION'], settings.CELERY_BROKER_URL)"
    base = {"DEBUG": "true", "DATA_DIR": str(tmp_path), "REDIS_URL": "redis://r:6379/3"}
    assert _settings_subprocess(base, code).stdout.split() == ["redis://r:6379/3", "redis://r:6379/3"]
    split = _settings_subprocess({**base, "REDIS_CACHE_URL": "redis://r:6379/4"}, code)
    assert split.stdout.split() == ["redis://r:6379/4", "redis://r:6379/3"]


def test_the_tests_never_flush_the_brokers_redis_database() -> None:
    from django.conf import settings

    # cache.clear() (many tests) is a FLUSHDB: on the broker's database it would drop queued tasks' bindings.
    if settings.CELERY_BROKER_URL.startswith("redis://"):
        assert settings.CACHES["default"]["LOCATION"] != settings.CELERY_BROKER_URL


def test_without_redis_web_and_worker_can_share_a_cache_in_files(tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    code = "print(settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1], settings.CACHES['default']['LOCATION'])"
    base = {"DEBUG": "true", "DATA_DIR": str(tmp_path)}
    assert _settings_subprocess(base, code).stdout.split() == ["LocMemCache", "refundready"]
    shared = _settings_subprocess({**base, "CACHE_DIR": str(tmp_path / "cache")}, code)
    assert shared.stdout.split() == ["FileBasedCache", str(tmp_path / "cache")]
    # run_demo (make run) hands both of its processes that folder when there is no Redis.
    from accounts.management.commands.run_demo import child_env

    settings.DATA_DIR = tmp_path
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert child_env() == {"CACHE_DIR": str(tmp_path / "cache")}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://r/1"}}
    assert child_env() == {}
