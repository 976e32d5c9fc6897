from django.core.management.base import BaseCommand, CommandError

from apps.audit import chain
from apps.tenancy.models import Tenant


def _age(delta) -> str:
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}min"
    return f"{seconds / 3600:.1f}h"


class Command(BaseCommand):
    help = (
        "Walk the audit hash chains in chain_seq order, recompute every hash and report the first "
        "broken link of each chain; exit 1 when one is broken. Unsealed events are reported but are "
        "not a break."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="NAME", help="verify only this tenant's chain")

    def handle(self, *args, tenant=None, **options):
        if tenant is not None:
            try:
                tenant_ids = [Tenant.objects.get(name=tenant).pk]
            except Tenant.DoesNotExist:
                raise CommandError(f"No tenant named '{tenant}'.") from None
        else:
            tenant_ids = None
        result = chain.verify_chains(tenant_ids)

        if not result.chains:
            self.stdout.write("No audit events.")
        for report in result.chains:
            if report.ok:
                self.stdout.write(
                    f"{report.label}: {report.sealed_events} sealed events, chain intact "
                    f"(head seq {report.head_seq}, hash {report.head_hash})"
                )
            else:
                broken = report.first_break
                self.stdout.write(self.style.ERROR(
                    f"{report.label}: BROKEN at event {broken.event_id} (seq {broken.chain_seq}), "
                    f"{broken.problem}: {broken.message}"
                ))
            if report.unsealed_events:
                self.stdout.write(
                    f"  {report.unsealed_events} event(s) not sealed yet, oldest "
                    f"{_age(result.checked_at - report.oldest_unsealed_at)} old"
                )
        if result.unsealed_events:
            self.stdout.write(
                f"{result.unsealed_events} unsealed event(s) in total, the oldest "
                f"{_age(result.oldest_unsealed_age)} old. Unsealed events are not part of a chain yet and "
                "are not a break: they are sealed right after their transaction commits, or by the "
                "seal_pending task within seconds."
            )
        if not result.ok:
            broken = sum(1 for report in result.chains if not report.ok)
            raise CommandError(f"{broken} audit chain(s) broken.", returncode=1)
        self.stdout.write(self.style.SUCCESS("Audit chain verification passed."))
