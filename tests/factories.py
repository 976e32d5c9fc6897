"""Factories shared by every app's tests. Objects are made through the services where a
service exists, so tests see the same side effects (schemas, roles, audit) as the portal."""

import itertools

import factory
from django.test import Client

from apps.accounts.models import User
from apps.tenancy import services as tenancy_services
from apps.tenancy.models import Tenant

PASSWORD = "correct-horse-battery"
_sequence = itertools.count()


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"tenant_{n}")


def make_owner(tenant_name: str | None = None, username: str | None = None) -> User:
    """A new tenant and its primary account."""
    n = next(_sequence)
    return tenancy_services.tenant_signup(
        tenant_name=tenant_name or f"tenant_{n}", username=username or f"owner{n}", password=PASSWORD
    )


def make_subaccount(owner: User, username: str | None = None) -> User:
    return tenancy_services.subaccount_create(
        actor=owner, username=username or f"user{next(_sequence)}", password=PASSWORD
    )


def make_project(owner: User, name: str | None = None, **kwargs):
    return tenancy_services.project_create(actor=owner, name=name or f"project_{next(_sequence)}", **kwargs)


def client_for(user) -> Client:
    """A test client logged in as ``user``, for pages (the API is called with signed clients:
    ``tests.signing``)."""
    client = Client()
    client.force_login(user)
    return client
