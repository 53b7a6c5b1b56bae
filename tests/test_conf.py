"""collab/conf.py: in-app defaults under a partial ``COLLAB``, read at call time; the system checks."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from collab import checks, editing
from collab.conf import DEFAULTS, collab_settings, redis_url


def ids(messages: list[Any]) -> list[str]:
    return sorted(m.id for m in messages)


def test_no_collab_setting_at_all_gives_every_default(settings: Any) -> None:
    del settings.COLLAB
    assert dict(collab_settings) == DEFAULTS
    assert editing.limits() == {"max_message_bytes": 262_144, "max_document_chars": 1_000_000}
    assert collab_settings.GROUP_COMMIT_MAX == 64


def test_a_partial_dict_changes_only_its_keys(settings: Any) -> None:
    settings.COLLAB = {"MAX_DOCUMENT_CHARS": 7}
    assert collab_settings["MAX_DOCUMENT_CHARS"] == 7
    assert collab_settings["MAX_MESSAGE_BYTES"] == DEFAULTS["MAX_MESSAGE_BYTES"]
    assert editing.limits()["max_document_chars"] == 7


def test_override_settings_is_seen_at_call_time() -> None:
    before = editing.limits()["max_message_bytes"]
    with override_settings(COLLAB={"MAX_MESSAGE_BYTES": 1234}):
        assert editing.limits()["max_message_bytes"] == 1234
    assert editing.limits()["max_message_bytes"] == before


def test_unknown_names_are_attribute_and_key_errors() -> None:
    with pytest.raises(AttributeError):
        _ = collab_settings.NO_SUCH_SETTING
    with pytest.raises(KeyError):
        _ = collab_settings["NO_SUCH_SETTING"]


@pytest.mark.parametrize(
    ("layer", "configured", "expected"),
    [
        ({"BACKEND": "channels.layers.InMemoryChannelLayer"}, None, ""),
        (
            {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://h:1/2"]}},
            None,
            "redis://h:1/2",
        ),
        (
            {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [("h", 7)]}},
            None,
            "redis://h:7",
        ),
        (
            {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [{"address": "redis://a"}]},
            },
            None,
            "redis://a",
        ),
        ({"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://h"]}}, "", ""),
        ({"BACKEND": "channels.layers.InMemoryChannelLayer"}, "redis://own:9", "redis://own:9"),
    ],
)
def test_redis_url_follows_the_channel_layer_unless_set(
    settings: Any, layer: dict[str, Any], configured: str | None, expected: str
) -> None:
    settings.CHANNEL_LAYERS = {"default": layer}
    settings.COLLAB = {} if configured is None else {"REDIS_URL": configured}
    assert redis_url() == expected


# -- system checks -------------------------------------------------------------------------------


def test_this_project_passes_every_check() -> None:
    assert [m for m in run_checks(include_deployment_checks=False) if m.id.startswith("collab.")] == []


@pytest.mark.parametrize(
    ("app", "check_id"),
    [
        ("channels", "collab.E001"),
        ("rest_framework", "collab.E002"),
        ("rest_framework.authtoken", "collab.E003"),
    ],
)
def test_each_missing_app_has_its_error(settings: Any, app: str, check_id: str) -> None:
    apps = [a for a in settings.INSTALLED_APPS if a != app]
    with override_settings(INSTALLED_APPS=apps):
        assert ids(checks.installed_apps_check()) == [check_id]


def test_daphne_missing_or_after_staticfiles_warns(settings: Any) -> None:
    apps = [a for a in settings.INSTALLED_APPS if a != "daphne"]
    settings.INSTALLED_APPS = apps
    assert ids(checks.installed_apps_check()) == ["collab.W002"]
    settings.INSTALLED_APPS = [*apps, "daphne"]
    assert ids(checks.installed_apps_check()) == ["collab.W003"]


def test_no_channel_layer_is_an_error(settings: Any) -> None:
    del settings.CHANNEL_LAYERS
    assert ids(checks.channel_layer_check()) == ["collab.E004"]
    settings.CHANNEL_LAYERS = {}
    assert ids(checks.channel_layer_check()) == ["collab.E004"]


def test_redis_layer_with_a_process_local_cache_warns(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert ids(checks.channel_layer_check()) == ["collab.W005"]
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}
    }
    assert ids(checks.channel_layer_check()) == []


def test_in_memory_layer_with_debug_off_keeps_w001(settings: Any) -> None:
    settings.DEBUG = False
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert ids(checks.in_memory_layer_check()) == ["collab.W001"]
    settings.DEBUG = True
    assert ids(checks.in_memory_layer_check()) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([("MAX_MESSAGE_BYTES", 1)], ["collab.E005"]),
        ({"MAX_MESAGE_BYTES": 1}, ["collab.W004"]),
        ({"MAX_MESSAGE_BYTES": "big"}, ["collab.E006"]),
        ({"MAX_MESSAGE_BYTES": 0}, ["collab.E006"]),
        ({"RATE_BURST": True}, ["collab.E006"]),
        ({"AUTH_CACHE_SECONDS": 0}, []),
        ({"AUTH_CACHE_SECONDS": -1}, ["collab.E006"]),
        ({"PRESENCE_TTL": 5, "PRESENCE_HEARTBEAT": 5}, ["collab.E006"]),
        ({"REDIS_URL": 6379}, ["collab.E006"]),
        ({"PERMISSION_POLICY": "no.such.module.policy"}, ["collab.E007"]),
        ({"PERMISSION_POLICY": "collab.conf.DEFAULTS"}, ["collab.E007"]),
        ({"PERMISSION_POLICY": 3}, ["collab.E006", "collab.E007"]),
        ({"PERMISSION_POLICY": "tests.support.policies.grants"}, []),
        ({"RATE_PER_SECOND": 0.5, "SLOW_CLIENT_TIMEOUT": 2.5}, []),
    ],
)
def test_collab_values_are_checked(settings: Any, value: Any, expected: list[str]) -> None:
    settings.COLLAB = value
    assert ids(checks.collab_settings_check()) == expected


def test_an_unknown_key_suggests_the_close_one(settings: Any) -> None:
    settings.COLLAB = {"MAX_MESAGE_BYTES": 1}
    (warning,) = checks.collab_settings_check()
    assert "MAX_MESSAGE_BYTES" in str(warning.hint)
