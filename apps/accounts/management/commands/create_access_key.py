from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts import services
from apps.accounts.models import User


class Command(BaseCommand):
    help = (
        "Create an AccessKey for USERNAME and print its id and secret as shell assignments "
        "(WARDEN_ACCESS_KEY_ID=..., WARDEN_ACCESS_KEY_SECRET=...), which "
        "warden_client.WardenClient.from_env() reads. The secret is shown only this once."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--description", default="created with manage.py create_access_key")

    def handle(self, *args, username, description, **options):
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named '{username}'.")
        try:
            access_key, secret = services.access_key_create(actor=None, owner=user, description=description)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages))
        self.stdout.write(f"WARDEN_ACCESS_KEY_ID={access_key.key_id}")
        self.stdout.write(f"WARDEN_ACCESS_KEY_SECRET={secret}")
