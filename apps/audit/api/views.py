from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit import selectors
from apps.audit.api.serializers import EventSerializer, VerificationSerializer
from apps.audit.filters import EventFilter
from apps.audit.models import Event
from apps.core.api import RestrictedViewSet


class EventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RestrictedViewSet):
    """The audit log, newest first: the whole tenant for its owner and administrators, a
    project's events for its auditors, and one's own events for everybody."""

    queryset = Event.objects.order_by("-occurred_at", "-id")
    serializer_class = EventSerializer
    filterset_class = EventFilter
    ordering_fields = ["occurred_at", "id"]
    ordering = ["-occurred_at", "-id"]
    lookup_value_regex = "[0-9]+"


class ChainVerifyView(APIView):
    """Verify the hash chain of the caller's tenant (tenant owner and administrators)."""

    @extend_schema(responses=VerificationSerializer, operation_id="audit_verify")
    def get(self, request):
        result = selectors.chain_verification(user=request.user)
        data = {
            "ok": result.ok,
            "checked_at": result.checked_at,
            "unsealed_events": result.unsealed_events,
            "oldest_unsealed_at": result.oldest_unsealed_at,
            "chains": [
                {
                    "tenant_id": report.tenant_id,
                    "tenant_name": report.tenant_name,
                    "ok": report.ok,
                    "sealed_events": report.sealed_events,
                    "head_seq": report.head_seq,
                    "head_hash": report.head_hash,
                    "first_break": asdict(report.first_break) if report.first_break else None,
                    "unsealed_events": report.unsealed_events,
                    "oldest_unsealed_at": report.oldest_unsealed_at,
                }
                for report in result.chains
            ],
        }
        return Response(VerificationSerializer(data).data)
