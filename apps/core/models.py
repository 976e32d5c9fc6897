from django.db import models


class RestrictedQuerySet(models.QuerySet):
    """A queryset that knows how to scope itself to what one user may see or change.

    Every model holding tenant data gives its queryset a ``restrict(user, action)``; the base
    viewset and the selectors call it before anything else sees a row, so an object outside
    the caller's scope never reaches a view and answers 404.
    """

    def restrict(self, user, action: str = "view"):
        raise NotImplementedError(f"{self.model.__name__} must define how it is restricted")


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
