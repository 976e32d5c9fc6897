"""/api/v1/projects/{project}/masking/jobs: start, list, read (with progress) and cancel
static masking jobs; field errors, denials with the decision's reason, other tenants' 404."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from apps.audit.models import Event
from apps.masking import jobs
from apps.masking.models import MaskingJob, MaskingJobStatus
from apps.permissions.selectors import warehouse_tables
from tests.factories import make_owner, make_project
from tests.gateway.world import make_shop

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def start(shop, target_name="copy") -> MaskingJob:
    return jobs.masking_job_start(actor=shop.owner, source_table=warehouse_tables(shop.project).get(name="customers"),
                                  target_project=shop.project, target_name=target_name)


@pytest.fixture
def shop():
    shop = make_shop()
    shop.url = f"/api/v1/projects/{shop.project.name}/masking/jobs"
    return shop


def test_the_owner_starts_a_job_into_another_project_and_follows_its_progress(shop, api_client_for):
    client = api_client_for(shop.owner)
    target = make_project(shop.owner)

    created = client.post(shop.url, {"source_table": "customers", "target_project": target.name,
                                     "target_name": "shared_customers"}, format="json")
    job_id = created.json()["id"]
    jobs.masking_job_run(job_id=job_id)
    listed = client.get(shop.url)
    one = client.get(f"{shop.url}/{job_id}")

    assert created.status_code == 201, created.json()
    assert created.json() == {**created.json(), "source_table": "customers", "target_project": target.name,
                              "target_name": "shared_customers", "status": "queued", "progress": 0,
                              "masked_columns": ["mobile"], "requested_by": shop.owner.username}
    assert listed.status_code == 200 and [job["id"] for job in listed.json()["results"]] == [job_id]
    assert one.status_code == 200
    assert one.json() == {**one.json(), "status": "succeeded", "progress": 100, "rows_total": 4, "rows_copied": 4,
                          "progress_message": "Copied 4 rows", "error": ""}
    assert Event.objects.get(action="masking.job_start").channel == "api"


def test_the_target_project_defaults_to_the_sources(shop, api_client_for):
    created = api_client_for(shop.owner).post(shop.url, {"source_table": "orders", "target_name": "orders_copy"},
                                              format="json")

    assert created.status_code == 201, created.json()
    assert created.json()["target_project"] == shop.project.name and created.json()["masked_columns"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({"target_name": "copy"}, "source_table"),
    ({"source_table": "nosuch", "target_name": "copy"}, "source_table"),
    ({"source_table": "customers", "target_project": "nosuch", "target_name": "copy"}, "target_project"),
    ({"source_table": "customers"}, "target_name"),
    ({"source_table": "customers", "target_name": "Bad Name"}, "target_name"),
    ({"source_table": "customers", "target_name": "orders"}, "target_name"),
])
def test_invalid_input_is_a_400_naming_the_field_and_starts_nothing(shop, api_client_for, body, field):
    response = api_client_for(shop.owner).post(shop.url, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not MaskingJob.objects.exists()


def test_a_denied_start_is_a_403_with_the_decisions_reason(shop, api_client_for):
    response = api_client_for(shop.reader).post(shop.url, {"source_table": "customers", "target_name": "copy"},
                                                format="json")

    assert response.status_code == 403
    assert response.json()["error"]["message"].startswith(f"CreateTable in {shop.project.name}:")
    assert not MaskingJob.objects.exists()


def test_the_requester_cancels_and_another_member_may_not(shop, api_client_for):
    job = start(shop)

    refused = api_client_for(shop.stranger).post(f"{shop.url}/{job.pk}/cancel")
    cancelled = api_client_for(shop.owner).post(f"{shop.url}/{job.pk}/cancel")
    again = api_client_for(shop.owner).post(f"{shop.url}/{job.pk}/cancel")

    assert refused.status_code == 403
    assert cancelled.status_code == 200 and cancelled.json()["status"] == MaskingJobStatus.CANCELLED
    assert again.status_code == 400 and "status" in again.json()["error"]["fields"]


def test_another_tenant_sees_nothing_of_the_projects_jobs_and_starts_nothing(shop, api_client_for):
    job = start(shop)
    stranger = api_client_for(make_owner())

    responses = [stranger.get(shop.url), stranger.get(f"{shop.url}/{job.pk}"),
                 stranger.post(f"{shop.url}/{job.pk}/cancel"),
                 stranger.post(shop.url, {"source_table": "customers", "target_name": "mine"}, format="json")]

    assert [response.status_code for response in responses] == [404] * 4
    assert MaskingJob.objects.get().status == MaskingJobStatus.QUEUED


def test_a_job_of_another_project_is_not_found_under_this_one(shop, api_client_for):
    job = start(shop)
    other = make_project(shop.owner)

    response = api_client_for(shop.owner).get(f"/api/v1/projects/{other.name}/masking/jobs/{job.pk}")

    assert response.status_code == 404


def test_listing_three_jobs_takes_as_many_queries_as_listing_one(shop, api_client_for):
    client = api_client_for(shop.owner)

    def queries_of_a_listing() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(shop.url).status_code == 200
        return len(captured)

    start(shop, "copy_one")
    queries_of_a_listing()
    one = queries_of_a_listing()
    start(shop, "copy_two")
    start(shop, "copy_three")

    assert queries_of_a_listing() == one


def test_the_masking_job_endpoints_are_described_without_warnings():
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/v1/", include("apps.masking.api.urls_jobs"))])
    schema = generator.get_schema(request=None, public=True)

    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache, dict(GENERATOR_STATS._warn_cache)
    validate_schema(schema)
    paths = schema["paths"]
    assert set(paths["/api/v1/projects/{project_name}/masking/jobs/"]) == {"get", "post"}
    assert set(paths["/api/v1/projects/{project_name}/masking/jobs/{id}/"]) == {"get"}
    assert set(paths["/api/v1/projects/{project_name}/masking/jobs/{id}/cancel/"]) == {"post"}
