import re

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from apps.core.models import RestrictedQuerySet

USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{1,62}$")


def validate_username(value: str) -> None:
    if not USERNAME_PATTERN.match(value or ""):
        raise ValidationError(
            "Use 2 to 63 characters: lowercase letters, digits, '_', '.' or '-', starting with a letter.",
            code="invalid_username",
        )


class UserQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        """Users see the accounts of their own tenant; nobody sees another tenant's accounts."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser and user.tenant_id is None:
            return self
        return self.filter(tenant_id=user.tenant_id)


class WardenUserManager(UserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    """A primary account (owns a tenant, as an Alibaba Cloud account does) or a sub-account
    of exactly one tenant (as a RAM user is). Platform superusers may have no tenant."""

    username = models.CharField(max_length=63, unique=True, validators=[validate_username])
    tenant = models.ForeignKey(
        "tenancy.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    is_primary = models.BooleanField(
        default=False, help_text="The tenant's primary account; sub-accounts have this unset."
    )

    objects = WardenUserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(is_primary=True), name="one_primary_account_per_tenant"
            ),
            models.CheckConstraint(
                condition=Q(is_primary=False) | Q(tenant__isnull=False), name="primary_account_has_tenant"
            ),
        ]

    @property
    def principal_name(self) -> str:
        """The name the statement language uses, after MaxCompute's ALIYUN$ / RAM$ principals."""
        if self.is_primary or self.tenant_id is None:
            return f"ALIYUN${self.username}"
        return f"RAM${self.tenant.name}:{self.username}"

    def __str__(self) -> str:
        return self.username


class AccessKeyStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"


class AccessKeyQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        """AccessKeys are personal: a user sees and changes only their own."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(user=user)


class AccessKey(models.Model):
    """A key pair for signed REST requests. The secret is kept encrypted (AES-GCM under
    WARDEN_MASTER_KEY), not hashed, because the server must recompute signatures."""

    MAX_PER_USER = 2

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="access_keys")
    key_id = models.CharField(max_length=32, unique=True)
    secret_encrypted = models.BinaryField()
    status = models.CharField(max_length=16, choices=AccessKeyStatus.choices, default=AccessKeyStatus.ACTIVE)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = AccessKeyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.key_id
