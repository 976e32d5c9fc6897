"""The events table is append-only in the database itself, whatever the application does.

- INSERT: an event is inserted unsealed (its chain fields empty); only sealing places it
  in its chain.
- UPDATE: refused, except the one sealing update of an unsealed row that sets the chain
  fields (chain_seq, prev_hash, hash, sealed_at) and leaves every other column unchanged.
  The comparison is over the whole row as JSON minus the chain fields, so a column added
  later is covered without touching this trigger.
- DELETE and TRUNCATE: always refused (statement-level, so even a DELETE that matches no
  row is refused).
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION audit_event_guard_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.chain_seq IS NOT NULL OR NEW.sealed_at IS NOT NULL OR NEW.hash <> '' OR NEW.prev_hash <> '' THEN
        RAISE EXCEPTION 'audit events are inserted unsealed: only sealing sets chain_seq, prev_hash, hash and sealed_at';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION audit_event_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    chain_fields CONSTANT text[] := ARRAY['chain_seq', 'prev_hash', 'hash', 'sealed_at'];
BEGIN
    IF OLD.chain_seq IS NULL
       AND NEW.chain_seq IS NOT NULL
       AND NEW.sealed_at IS NOT NULL
       AND NEW.hash ~ '^[0-9a-f]{64}$'
       AND NEW.prev_hash ~ '^[0-9a-f]{64}$'
       AND (to_jsonb(NEW) - chain_fields) = (to_jsonb(OLD) - chain_fields)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: UPDATE of event % is refused', OLD.id
        USING HINT = 'The only update allowed is sealing an unsealed event, which sets chain_seq, prev_hash, hash and sealed_at and nothing else.';
END
$$;

CREATE FUNCTION audit_event_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % on audit_event is refused', TG_OP;
END
$$;

CREATE TRIGGER audit_event_inserted_unsealed BEFORE INSERT ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_guard_insert();
CREATE TRIGGER audit_event_append_only_update BEFORE UPDATE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_guard_update();
CREATE TRIGGER audit_event_append_only_delete BEFORE DELETE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse();
CREATE TRIGGER audit_event_append_only_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse();
"""

BACKWARD = """
DROP TRIGGER audit_event_append_only_truncate ON audit_event;
DROP TRIGGER audit_event_append_only_delete ON audit_event;
DROP TRIGGER audit_event_append_only_update ON audit_event;
DROP TRIGGER audit_event_inserted_unsealed ON audit_event;
DROP FUNCTION audit_event_refuse();
DROP FUNCTION audit_event_guard_update();
DROP FUNCTION audit_event_guard_insert();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
