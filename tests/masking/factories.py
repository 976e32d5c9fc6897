"""A small masked world for the rules, unmask and page tests, and factories that write rules
and grants directly (the selector tests need many, fast, without the services' versions)."""

from datetime import timedelta
from types import SimpleNamespace

import factory
from django.utils import timezone

from apps.catalog.models import SensitiveType
from apps.masking.models import MaskingRule, UnmaskGrant
from apps.tenancy.roles import WorkspaceRole
from apps.tenancy.services import member_add, role_assign, role_create
from tests.factories import make_owner, make_project, make_subaccount
from tests.permissions.services_world import make_table

# Algorithms for every kind of column (hash, nullify) and one for text and numbers only, with
# parameters (keep_ends).
TEXT_ALGORITHM = "hash"
ANY_ALGORITHM = "nullify"
KEEP_ALGORITHM = "keep_ends"


def sensitive_type(code: str) -> SensitiveType:
    return SensitiveType.objects.get(tenant__isnull=True, code=code)


def make_customers(project, name: str = "customers"):
    """customers (id integer, mobile text: mobile_phone, email text: email, birthday date)."""
    table = make_table(project, name, columns=("id", "mobile", "email", "birthday"))
    columns = {column.name: column for column in table.columns.all()}
    columns["id"].data_type = "integer"
    columns["birthday"].data_type = "date"
    columns["mobile"].classification = sensitive_type("mobile_phone")
    columns["email"].classification = sensitive_type("email")
    for column in columns.values():
        column.save()
    table.cols = SimpleNamespace(**columns)
    return table


def make_masking_world():
    """owner's project with a security administrator (security), plain members bob and carol,
    the custom role analyst (held by bob), and the table customers."""
    owner = make_owner()
    project = make_project(owner)
    security, bob, carol = (make_subaccount(owner) for _ in range(3))
    for user in (security, bob, carol):
        member_add(actor=owner, project=project, user=user)
    role_assign(actor=owner, role=project.roles.get(name=WorkspaceRole.SECURITY_ADMINISTRATOR), user=security)
    analyst = role_create(actor=owner, project=project, name="analyst")
    role_assign(actor=owner, role=analyst, user=bob)
    return SimpleNamespace(owner=owner, tenant=owner.tenant, project=project, security=security, bob=bob,
                           carol=carol, analyst=analyst, customers=make_customers(project))


class MaskingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MaskingRule

    name = factory.Sequence(lambda n: f"rule {n}")
    algorithm = TEXT_ALGORITHM
    params = factory.LazyFunction(dict)

    @classmethod
    def for_column(cls, column, **kwargs):
        project = column.table.data_source.project
        return cls(tenant=project.tenant, project=project, column=column, **kwargs)

    @classmethod
    def for_type(cls, code: str, *, project=None, tenant=None, **kwargs):
        return cls(tenant=tenant or project.tenant, project=project, sensitive_type=sensitive_type(code), **kwargs)


class UnmaskGrantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UnmaskGrant

    columns = factory.LazyFunction(list)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))

    @classmethod
    def on(cls, table, **kwargs):
        return cls(project=table.data_source.project, table=table, **kwargs)
