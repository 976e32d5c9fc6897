"""The audit endpoints are described by the OpenAPI schema without warnings or errors."""

from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema


def test_audit_api_schema_is_clean_and_valid():
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/v1/", include("apps.audit.api.urls"))])
    schema = generator.get_schema(request=None, public=True)
    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache, dict(GENERATOR_STATS._warn_cache)
    validate_schema(schema)

    paths = schema["paths"]
    # The routes accept both spellings; the schema documents the one with the slash.
    assert set(paths) == {"/api/v1/audit/events/", "/api/v1/audit/events/{id}/", "/api/v1/audit/verify/"}
    list_params = {p["name"] for p in paths["/api/v1/audit/events/"]["get"]["parameters"]}
    assert {"action", "actor", "project", "channel", "decision", "since", "until", "target_type",
            "page", "page_size", "ordering"} <= list_params
    assert set(paths["/api/v1/audit/events/{id}/"]) == {"get"}
    verify = paths["/api/v1/audit/verify/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert verify == {"$ref": "#/components/schemas/Verification"}
