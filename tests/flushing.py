"""Let Django's test flush empty the append-only events table.

TransactionTestCase-style tests (pytest's ``transactional_db``, ``live_server``) end with
``manage.py flush``, one ``TRUNCATE`` of every table, which the events table's trigger
refuses. ``allow_flushing_audit_log()`` makes the flush statement disable that trigger
around the TRUNCATE, in the same transaction, with the table owner's right that the test
database user has; the rule itself stays absolute in every real database.

tests/conftest.py calls it once per test session.
"""

TRIGGER = "audit_event_append_only_truncate"
TABLE = "audit_event"


def allow_flushing_audit_log() -> None:
    from django.db.backends.postgresql.operations import DatabaseOperations

    if getattr(DatabaseOperations.sql_flush, "keeps_audit_flushable", False):
        return
    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        if TABLE not in tables:
            return statements
        return [
            f'ALTER TABLE "{TABLE}" DISABLE TRIGGER "{TRIGGER}";',
            *statements,
            f'ALTER TABLE "{TABLE}" ENABLE TRIGGER "{TRIGGER}";',
        ]

    sql_flush.keeps_audit_flushable = True
    DatabaseOperations.sql_flush = sql_flush
