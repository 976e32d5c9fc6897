"""Catalog objects made through the catalog's services."""

from apps.catalog import services
from apps.catalog.harvest import harvest_run_execute
from apps.catalog.models import DataSourceKind, HarvestRun, TLSMode


def make_postgresql_source(actor, project, server: dict, name: str = "scratch", **kwargs):
    """A data source for ``server`` (host, port, user, password, dbname)."""
    return services.data_source_create(
        actor=actor, project=project, kind=DataSourceKind.POSTGRESQL, name=name, host=server["host"],
        port=server["port"], database=server["dbname"], username=server["user"],
        password=kwargs.pop("password", server["password"]), tls_mode=kwargs.pop("tls_mode", TLSMode.DISABLE),
        **kwargs,
    )


def harvest_now(actor, data_source) -> HarvestRun:
    """Queue a harvest and run it here, in the test's transaction (where the on-commit task
    would never fire)."""
    run = services.harvest_start(actor=actor, data_source=data_source)
    harvest_run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run
