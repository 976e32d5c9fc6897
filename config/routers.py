class WarehouseRouter:
    """Warden's own models live in the default database; the warehouse holds only project
    schemas, created and changed through services and the gateway, never by migrations."""

    def db_for_read(self, model, **hints):
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
