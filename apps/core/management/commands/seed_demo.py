import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.core import demo


def print_logins(stdout, style) -> None:
    stdout.write(f"Demo logins (tenant {demo.TENANT_NAME}):")
    for user in demo.DEMO_USERS:
        stdout.write(f"  {user.username:<6} password {user.password:<22} {user.persona}")


class Command(BaseCommand):
    help = (
        "Create the demo tenant 'acme' (alice, bob, carol, dave), its projects wonderland, "
        "wonderland_dev and secretgarden, and warehouse tables with deterministic fake personal data. "
        "Idempotent: what already exists is kept."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rows", type=int, default=demo.DEFAULT_ROWS,
            help=f"rows of wonderland.customers (orders get 3x as many); default {demo.DEFAULT_ROWS:,}",
        )
        parser.add_argument("--quiet-logins", action="store_true", help="do not print the demo logins")

    def handle(self, *args, rows: int, quiet_logins: bool, **options):
        if rows < 1:
            raise CommandError("--rows must be at least 1.")
        started = time.monotonic()
        try:
            report = demo.seed(rows=rows)
        except demo.DemoSeedError as error:
            raise CommandError(str(error)) from error
        except ValidationError as error:
            # A name the demo needs is taken by something the demo did not make.
            problems = (
                [f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items()]
                if hasattr(error, "error_dict") else error.messages
            )
            raise CommandError(f"Cannot create the demo: {'; '.join(problems)}") from error
        elapsed = time.monotonic() - started
        for change in report.changes:
            self.stdout.write(f"  created {change}")
        for table, count, loaded in report.tables:
            self.stdout.write(f"  {'loaded' if loaded else 'kept  '} {table} ({count:,} rows)")
        if report.changed:
            self.stdout.write(self.style.SUCCESS(f"Demo data ready in {elapsed:.1f}s."))
        else:
            self.stdout.write(f"Demo data already in place; nothing changed ({elapsed:.1f}s).")
        if not quiet_logins:
            print_logins(self.stdout, self.style)
