import pytest

@pytest.fixture
def disabled_trigger():
    """``with disabled_trigger("audit_event_append_only_update"): ...`` runs the block with that
    trigger off (as someone with the table owner's rights could), and turns it back on."""
    from contextlib import contextmanager

    from django.db import connection

    @contextmanager
    def disable(name: str):
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER TABLE audit_event DISABLE TRIGGER "{name}"')
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f'ALTER TABLE audit_event ENABLE TRIGGER "{name}"')

    return disable

