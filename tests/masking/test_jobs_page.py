"""The masking jobs page (/masking/<project>/jobs/): the jobs with their progress, polled by
htmx while one is going, the start form, and cancel buttons for those who may cancel."""

import pytest
from django.urls import reverse

from apps.masking import jobs
from apps.masking.models import MaskingJob, MaskingJobStatus
from apps.permissions.selectors import warehouse_tables
from tests.factories import client_for, make_owner, make_project
from tests.gateway.world import make_shop

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def shop():
    shop = make_shop()
    shop.url = reverse("masking_jobs:list", kwargs={"name": shop.project.name})
    return shop


def start(shop, target_name="copy") -> MaskingJob:
    return jobs.masking_job_start(actor=shop.owner, source_table=warehouse_tables(shop.project).get(name="customers"),
                                  target_project=shop.project, target_name=target_name)


def test_the_page_lists_jobs_with_their_progress_and_polls_while_one_is_going(shop):
    job = start(shop)
    MaskingJob.objects.filter(pk=job.pk).update(status=MaskingJobStatus.RUNNING, progress=40,
                                                progress_message="Copied 2 of 4 rows")
    client = client_for(shop.owner)

    html = client.get(shop.url).content.decode()
    partial = client.get(shop.url, headers={"HX-Request": "true"}).content.decode()

    assert f'id="masking-job-{job.pk}"' in html and 'aria-valuenow="40"' in html and "Copied 2 of 4 rows" in html
    assert 'hx-trigger="every 2s"' in html and 'id="masking-job-start-form"' in html
    assert partial.startswith('<div id="masking-jobs"') and "masking-job-start-form" not in partial
    assert f'id="masking-job-{job.pk}"' in partial


def test_polling_stops_once_every_job_has_ended(shop):
    job = start(shop)
    jobs.masking_job_run(job_id=job.pk)

    html = client_for(shop.owner).get(shop.url).content.decode()

    assert "hx-trigger" not in html and 'aria-valuenow="100"' in html and "Succeeded" in html
    assert ">Cancel</button>" not in html


def test_the_form_offers_the_projects_tables_and_the_users_projects(shop):
    other = make_project(shop.owner)

    html = client_for(shop.owner).get(shop.url).content.decode()

    assert "<option>customers</option>" in html and "<option>orders</option>" in html
    assert f"<option>{other.name}</option>" in html and f"<option selected>{shop.project.name}</option>" in html


def test_starting_a_job_from_the_form_queues_it(shop):
    response = client_for(shop.owner).post(reverse("masking_jobs:start", kwargs={"name": shop.project.name}), {
        "source_table": "customers", "target_project": shop.project.name, "target_name": "shared"}, follow=True)

    job = MaskingJob.objects.get()
    assert response.status_code == 200 and f"Masking job {job.pk} queued" in response.content.decode()
    assert (job.target_name, job.status, job.requested_by) == ("shared", MaskingJobStatus.QUEUED, shop.owner)


def test_a_rejected_start_shows_the_error_next_to_its_field(shop):
    response = client_for(shop.owner).post(reverse("masking_jobs:start", kwargs={"name": shop.project.name}), {
        "source_table": "customers", "target_project": shop.project.name, "target_name": "Not Valid"})

    html = response.content.decode()
    assert response.status_code == 400
    assert 'class="form-control form-control-sm is-invalid"' in html and 'value="Not Valid"' in html
    assert not MaskingJob.objects.exists()


def test_a_denied_start_shows_the_decisions_reason(shop):
    response = client_for(shop.stranger).post(reverse("masking_jobs:start", kwargs={"name": shop.project.name}), {
        "source_table": "customers", "target_project": shop.project.name, "target_name": "mine"})

    assert response.status_code == 403
    assert f"Select on {shop.project.name}.customers" in response.content.decode()
    assert not MaskingJob.objects.exists()


def test_only_those_who_may_cancel_see_the_button_and_cancel(shop):
    job = start(shop)
    cancel_url = reverse("masking_jobs:cancel", kwargs={"name": shop.project.name, "pk": job.pk})

    stranger_html = client_for(shop.stranger).get(shop.url).content.decode()
    refused = client_for(shop.stranger).post(cancel_url)
    owner_html = client_for(shop.owner).get(shop.url).content.decode()
    cancelled = client_for(shop.owner).post(cancel_url, follow=True)

    assert f'id="masking-job-{job.pk}"' in stranger_html and ">Cancel</button>" not in stranger_html
    assert refused.status_code == 403
    assert ">Cancel</button>" in owner_html
    assert f"Masking job {job.pk} cancelled." in cancelled.content.decode()
    assert MaskingJob.objects.get().status == MaskingJobStatus.CANCELLED


def test_another_tenant_gets_404_for_the_page_and_its_forms(shop):
    job = start(shop)
    client = client_for(make_owner())

    responses = [client.get(shop.url),
                 client.post(reverse("masking_jobs:start", kwargs={"name": shop.project.name}),
                             {"source_table": "customers", "target_project": shop.project.name, "target_name": "x1"}),
                 client.post(reverse("masking_jobs:cancel", kwargs={"name": shop.project.name, "pk": job.pk}))]

    assert [response.status_code for response in responses] == [404, 404, 404]
    assert MaskingJob.objects.get().status == MaskingJobStatus.QUEUED
