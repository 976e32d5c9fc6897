from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import services
from apps.accounts.api.serializers import (
    AccessKeyCreateSerializer,
    AccessKeySerializer,
    AccessKeyWithSecretSerializer,
    MeSerializer,
)
from apps.accounts.models import AccessKey, AccessKeyStatus
from apps.core.api import RestrictedViewSet


@extend_schema_view(
    list=extend_schema(summary="List your AccessKeys"),
    retrieve=extend_schema(summary="One of your AccessKeys"),
    destroy=extend_schema(summary="Delete one of your AccessKeys"),
)
class AccessKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                       RestrictedViewSet):
    """The caller's own AccessKeys. Another user's key answers 404."""

    queryset = AccessKey.objects.select_related("user").order_by("created_at", "id")
    serializer_class = AccessKeySerializer
    lookup_field = "key_id"
    lookup_value_regex = "[A-Za-z0-9]+"
    filterset_fields = ["status"]
    ordering_fields = ["created_at", "last_used_at"]

    @extend_schema(summary="Create an AccessKey", request=AccessKeyCreateSerializer,
                   responses={201: AccessKeyWithSecretSerializer},
                   description="The answer carries the secret; it is shown this once and never again.")
    def create(self, request):
        incoming = AccessKeyCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        access_key, secret = services.access_key_create(
            actor=request.user, description=incoming.validated_data["description"], request=request
        )
        body = AccessKeyWithSecretSerializer(access_key, context={"secret": secret}).data
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.access_key_delete(actor=self.request.user, access_key=instance, request=self.request)

    @extend_schema(summary="Disable an AccessKey", request=None, responses={200: AccessKeySerializer})
    @action(detail=True, methods=["post"])
    def disable(self, request, key_id=None):
        return self._set_status(AccessKeyStatus.DISABLED)

    @extend_schema(summary="Enable an AccessKey", request=None, responses={200: AccessKeySerializer})
    @action(detail=True, methods=["post"])
    def enable(self, request, key_id=None):
        return self._set_status(AccessKeyStatus.ACTIVE)

    def _set_status(self, new_status):
        access_key = services.access_key_set_status(
            actor=self.request.user, access_key=self.get_object(), status=new_status, request=self.request
        )
        return Response(AccessKeySerializer(access_key).data)


class MeView(APIView):
    """Who the caller is, and how they authenticated."""

    @extend_schema(summary="Who am I", responses={200: MeSerializer})
    def get(self, request):
        user = request.user
        access_key = request.auth if isinstance(request.auth, AccessKey) else None
        return Response(MeSerializer({
            "username": user.username,
            "email": user.email,
            "tenant": user.tenant.name if user.tenant_id else None,
            "is_primary": user.is_primary,
            "principal_name": user.principal_name,
            "access_key": access_key.key_id if access_key else None,
        }).data)
