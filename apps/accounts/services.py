"""Changes to accounts: signing in and out, sign-up, AccessKeys. Each is audited."""

import hashlib
import secrets
import string

from django.conf import settings
from django.contrib import auth
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps import audit
from apps.accounts.authentication import ACCESS_KEY_PURPOSE
from apps.accounts.models import AccessKey, AccessKeyStatus, User
from apps.audit.services import request_source_ip
from apps.core import crypto

KEY_ID_PREFIX = "WK"
_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits


class LoginRefused(ValidationError):
    """A sign-in that did not succeed; the message is safe to show."""


# --- signing in ----------------------------------------------------------------------------

def _throttle_keys(username: str, source_ip: str | None) -> dict[str, str]:
    # Usernames are hashed so the cache never holds what someone typed into the login form.
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    scopes = {"username": f"login:user:{digest}"}
    if source_ip:
        scopes["ip"] = f"login:ip:{source_ip}"
    return scopes


def _lockout_message() -> str:
    minutes = max(1, round(settings.WARDEN_LOGIN_LOCKOUT_SECONDS / 60))
    return (f"Too many failed sign-in attempts. Sign-in is locked for up to {minutes} minute"
            f"{'s' if minutes != 1 else ''}; try again later.")


def _user_named(username: str) -> User | None:
    return User.objects.filter(username=username.strip()).select_related("tenant").first()


def _record_failure(*, request, username: str, reason: str, target) -> None:
    with transaction.atomic():
        audit.record(None, "auth.login_failed", target, request=request,
                     details={"username": username[:150], "reason": reason})


def _count_failure(*, request, username: str, scopes: dict[str, str], target) -> bool:
    """Count one failure per scope; start a lock-out for each scope that reaches the limit.
    Returns whether a lock-out started."""
    limit = settings.WARDEN_LOGIN_MAX_FAILURES
    window = settings.WARDEN_LOGIN_LOCKOUT_SECONDS
    locked = []
    for scope, key in scopes.items():
        counter = f"{key}:failures"
        # The window starts at the first failure; add() is atomic, so racing attempts share it.
        cache.add(counter, 0, timeout=window)
        try:
            failures = cache.incr(counter)
        except ValueError:  # the counter expired between add() and incr()
            cache.add(counter, 1, timeout=window)
            failures = 1
        if failures >= limit and cache.add(f"{key}:locked", 1, timeout=window):
            cache.delete(counter)
            locked.append(scope)
    if locked:
        with transaction.atomic():
            audit.record(None, "auth.lockout", target, request=request,
                         details={"username": username[:150], "scopes": locked, "seconds": window})
    return bool(locked)


def login_attempt(*, request, username: str, password: str) -> User:
    """Sign ``username`` in on ``request``'s session, or raise LoginRefused.

    Failed attempts are counted per username and per source address (in Redis, through the
    cache); WARDEN_LOGIN_MAX_FAILURES of either within WARDEN_LOGIN_LOCKOUT_SECONDS lock that
    username or address out for WARDEN_LOGIN_LOCKOUT_SECONDS, and while locked even the
    right password is refused. A success clears the username's count, not the address's,
    so one valid account cannot be used to reset an attack on others.

    Failures are audited (never the password) and committed even though the caller sees an
    error, so this function is not one atomic block: each event commits on its own.
    """
    username = (username or "").strip()
    scopes = _throttle_keys(username, request_source_ip(request))
    target_user = _user_named(username) if username else None
    target = target_user or ("accounts.user", "", username[:150])

    if any(cache.get_many([f"{key}:locked" for key in scopes.values()]).values()):
        _record_failure(request=request, username=username, reason="locked_out", target=target)
        raise LoginRefused(_lockout_message(), code="locked_out")

    user = auth.authenticate(request, username=username, password=password or "") if username else None
    if user is None:
        reason = "inactive_user" if target_user is not None and not target_user.is_active else "bad_credentials"
        _record_failure(request=request, username=username, reason=reason, target=target)
        if _count_failure(request=request, username=username, scopes=scopes, target=target):
            raise LoginRefused(_lockout_message(), code="locked_out")
        raise LoginRefused("Wrong username or password.", code="bad_credentials")

    cache.delete(f"{scopes['username']}:failures")
    with transaction.atomic():
        auth.login(request, user)
        audit.record(user, "auth.login", user, request=request)
    return user


@transaction.atomic
def logout(*, request) -> None:
    user = request.user
    if user.is_authenticated:
        audit.record(user, "auth.logout", user, request=request)
    auth.logout(request)


@transaction.atomic
def signup(*, request, tenant_name: str, username: str, password: str, email: str = "") -> User:
    """Self-service sign-up: a new tenant, its primary account, and a session for it."""
    from apps.tenancy.services import tenant_signup

    if not settings.WARDEN_SIGNUP_ENABLED:
        raise PermissionDenied("Sign-up is switched off on this Warden.")
    user = tenant_signup(tenant_name=tenant_name, username=username, password=password, email=email,
                         request=request)
    auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    audit.record(user, "auth.login", user, request=request, details={"after": "signup"})
    return user


# --- AccessKeys ----------------------------------------------------------------------------

def _new_key_id() -> str:
    return KEY_ID_PREFIX + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(20))


def _key_details(access_key: AccessKey) -> dict:
    return {"key_id": access_key.key_id, "owner": access_key.user.username}


@transaction.atomic
def access_key_create(*, actor, description: str = "", owner: User | None = None,
                      request=None) -> tuple[AccessKey, str]:
    """A new AccessKey for ``owner`` (default: the actor) and its secret, which is returned
    this once and stored only encrypted.

    AccessKeys are personal: only their owner makes them. ``actor=None`` is the system
    (``manage.py create_access_key``), which may make one for anybody.
    """
    owner = owner or actor
    if owner is None:
        raise ValueError("an AccessKey needs an owner")
    if actor is not None and actor.pk != owner.pk:
        raise PermissionDenied("AccessKeys are personal: you can only create your own.")
    description = (description or "").strip()
    max_length = AccessKey._meta.get_field("description").max_length
    if len(description) > max_length:
        raise ValidationError({"description": f"Use at most {max_length} characters."})
    # Lock the owner's row so two concurrent requests cannot both pass the limit.
    owner = User.objects.select_for_update().get(pk=owner.pk)
    if not owner.is_active:
        raise ValidationError({"user": f"{owner.username} is disabled."})
    if AccessKey.objects.filter(user=owner).count() >= AccessKey.MAX_PER_USER:
        raise ValidationError(
            f"{owner.username} already has {AccessKey.MAX_PER_USER} AccessKeys, the most allowed; "
            "delete one first."
        )
    secret = secrets.token_urlsafe(30)
    access_key = AccessKey.objects.create(
        user=owner,
        key_id=_new_key_id(),
        secret_encrypted=crypto.encrypt(secret, purpose=ACCESS_KEY_PURPOSE),
        description=description,
    )
    audit.record(actor, "access_key.create", access_key, request=request,
                 details={**_key_details(access_key), "description": description})
    return access_key, secret


def _require_owner(actor, access_key: AccessKey) -> None:
    # Another user's key behaves as if it did not exist (404), as the scoped querysets do.
    if actor is None or access_key.user_id != actor.pk:
        raise AccessKey.DoesNotExist("AccessKey matching query does not exist.")


@transaction.atomic
def access_key_set_status(*, actor, access_key: AccessKey, status: str, request=None) -> AccessKey:
    _require_owner(actor, access_key)
    if status not in AccessKeyStatus.values:
        raise ValidationError({"status": f"Choose one of: {', '.join(AccessKeyStatus.values)}."})
    access_key = AccessKey.objects.select_for_update().select_related("user").get(pk=access_key.pk)
    if access_key.status == status:
        return access_key
    access_key.status = status
    access_key.save(update_fields=["status"])
    action = "access_key.enable" if status == AccessKeyStatus.ACTIVE else "access_key.disable"
    audit.record(actor, action, access_key, request=request, details=_key_details(access_key))
    return access_key


@transaction.atomic
def access_key_delete(*, actor, access_key: AccessKey, request=None) -> None:
    _require_owner(actor, access_key)
    audit.record(actor, "access_key.delete", access_key, request=request, details=_key_details(access_key))
    access_key.delete()
