from django.db.models import QuerySet

from apps.accounts.models import AccessKey


def access_key_list(*, user) -> QuerySet[AccessKey]:
    """The caller's own AccessKeys; nobody lists another user's."""
    return AccessKey.objects.restrict(user).order_by("created_at", "id")


def access_key_get(*, user, key_id: str) -> AccessKey:
    """AccessKey.DoesNotExist unless ``key_id`` is one of ``user``'s keys."""
    return access_key_list(user=user).select_related("user").get(key_id=key_id)
