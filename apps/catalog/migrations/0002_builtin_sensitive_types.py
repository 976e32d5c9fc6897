from django.db import migrations

# The built-in sensitive types: code, name, category, default level 0-9. The classification
# issue's recognizers find these; tenants add their own types beside them.
TYPES = (
    ("person_name", "Name", "personal", 3),
    ("mobile_phone", "Mobile phone", "personal", 5),
    ("email", "Email address", "personal", 4),
    ("national_id", "National ID", "identity", 8),
    ("passport", "Passport number", "identity", 8),
    ("bank_card", "Bank card number", "financial", 8),
    ("salary", "Salary", "financial", 6),
    ("address", "Address", "personal", 5),
    ("birthday", "Date of birth", "personal", 4),
    ("ip_address", "IP address", "network", 3),
    ("license_plate", "License plate", "vehicle", 4),
)


def seed(apps, schema_editor):
    SensitiveType = apps.get_model("catalog", "SensitiveType")
    for code, name, category, level in TYPES:
        SensitiveType.objects.update_or_create(
            tenant=None, code=code, defaults={"name": name, "category": category, "default_level": level}
        )


def unseed(apps, schema_editor):
    SensitiveType = apps.get_model("catalog", "SensitiveType")
    SensitiveType.objects.filter(tenant=None, code__in=[code for code, *_ in TYPES]).delete()


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
