"""The gateway against a direct read, and the cost of preparing a statement.

``gateway_median_ms`` / ``direct_median_ms``: the same ``SELECT *`` of 10,000 rows x 10
columns, three of them masked (name, mobile, email), run through ``query_run`` as a reader
(parse, authorize, rewrite, run under the gateway role, convert, audit) and directly with
psycopg on a connection of its own (execute and fetch every row), alternately, in one process
on the same data. ``ratio`` = gateway / direct (goal: at most 1.3). ``direct_masked_median_ms``
runs the gateway's rewritten statement directly the same way, which parts what masking costs
PostgreSQL from what the gateway itself adds (``gateway_overhead_ratio`` = gateway / that).

``prepare_median_ms`` / ``prepare_p99_ms``: parse + authorize + rewrite of a 5-table join
naming 40 columns (``statement_prepare``, nothing run; goal: median under 3 ms), each time a
statement the gateway has not seen (a different literal), so nothing of it is cached.
``prepare_cached_median_ms``: the same statement again, as dashboards and reports send it:
the parsed plan, the reader's masks and the rewrite come from the per-process caches that
security versions keep current.
"""

import statistics
import time

ROWS = 10_000
RUNS = 25
PREPARE_RUNS = 300

PEOPLE = """
CREATE TABLE "{schema}".people (id integer PRIMARY KEY, name text, mobile text, email text, city text,
    amount numeric(12,2), joined date, code text, status text, score integer);
INSERT INTO "{schema}".people
SELECT g, 'Person ' || g, '13' || lpad((g * 7919 % 1000000000)::text, 9, '0'), 'user' || g || '@example.com',
       (ARRAY['Paris','Lyon','Hangzhou','Austin','Lagos'])[1 + g % 5], (g % 1000) * 1.25,
       DATE '2020-01-01' + g % 1500, md5(g::text), (ARRAY['active','closed','new'])[1 + g % 3], g % 100
FROM generate_series(1, {rows}) AS g;
"""


def _join_tables(schema: str) -> tuple[list[str], str]:
    statements = []
    for index in range(1, 6):
        columns = ", ".join(f"c{index}_{n} text" for n in range(1, 8))
        statements.append(f'CREATE TABLE "{schema}".t{index} (id integer PRIMARY KEY, {columns})')
    selected = ", ".join([f"t{i}.id AS id{i}" for i in range(1, 6)]
                         + [f"t{i}.c{i}_{n}" for i in range(1, 6) for n in range(1, 8)])
    joins = " ".join(f"JOIN t{i} ON t{i}.id = t1.id" for i in range(2, 6))
    return statements, f"SELECT {selected} FROM t1 {joins} WHERE t1.c1_1 LIKE 'a%' ORDER BY t1.id"


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def run() -> dict[str, float]:
    import psycopg
    from django.db import connections
    from django.utils import timezone

    from apps.catalog.harvest import warehouse_tables_sync
    from apps.catalog.models import Column
    from apps.gateway.prepare import statement_prepare
    from apps.gateway.services import query_run
    from apps.masking.services import masking_rule_create
    from apps.permissions.console import statement_run
    from apps.tenancy.services import member_add
    from tests.factories import make_owner, make_project, make_subaccount

    owner = make_owner()
    project = make_project(owner, "bench_gateway")
    reader = make_subaccount(owner)
    member_add(actor=owner, project=project, user=reader)
    schema = project.schema_name
    join_ddl, join_sql = _join_tables(schema)
    with connections["warehouse"].cursor() as cursor:
        cursor.execute(PEOPLE.format(schema=schema, rows=ROWS))
        for statement in join_ddl:
            cursor.execute(statement)
        cursor.execute(f'ANALYZE "{schema}".people')
    warehouse_tables_sync(project=project, names=frozenset({"people", "t1", "t2", "t3", "t4", "t5"}),
                          summary="benchmark tables")
    for table in ("people", "t1", "t2", "t3", "t4", "t5"):
        statement_run(actor=owner, project=project, text=f"grant select on table {table} to user {reader.principal_name}")
    for column, algorithm in (("name", "name"), ("mobile", "mobile_phone"), ("email", "email")):
        masking_rule_create(actor=owner, project=project, name=f"{column} masked", algorithm=algorithm, params={},
                            column=Column.objects.get(table__data_source__project=project, table__name="people",
                                                      name=column))

    sql = "SELECT * FROM people"
    settings_dict = connections["warehouse"].settings_dict
    direct = psycopg.connect(dbname=settings_dict["NAME"], user=settings_dict["USER"],
                             password=settings_dict["PASSWORD"] or None, host=settings_dict["HOST"] or None,
                             port=settings_dict["PORT"] or None, autocommit=True)
    first = query_run(actor=reader, project=project, sql=sql, limit=ROWS)
    assert len(first.rows) == ROWS and first.masked_columns == ["name", "mobile", "email"], first.masked_columns
    runnable = statement_prepare(actor=reader, project=project, sql=sql, now=timezone.now()).runnable
    gateway_times, direct_times, masked_times = [], [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        query_run(actor=reader, project=project, sql=sql, limit=ROWS)
        gateway_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        with direct.cursor() as cursor:
            cursor.execute(f'SELECT * FROM "{schema}".people')
            rows = cursor.fetchall()
        direct_times.append(time.perf_counter() - started)
        assert len(rows) == ROWS
        started = time.perf_counter()
        with direct.cursor() as cursor:
            cursor.execute(runnable)
            rows = cursor.fetchall()
        masked_times.append(time.perf_counter() - started)
    direct.close()

    prepare_times, cached_times = [], []
    for run_number in range(PREPARE_RUNS):
        now = timezone.now()
        started = time.perf_counter()
        prepared = statement_prepare(actor=reader, project=project, sql=join_sql.replace("'a%'", f"'a{run_number}%'"),
                                     now=now)
        prepare_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        statement_prepare(actor=reader, project=project, sql=join_sql, now=now)
        cached_times.append(time.perf_counter() - started)
    assert not prepared.denied and len(prepared.checks) == 5
    prepare_times.sort()
    gateway_ms, direct_ms = _median_ms(gateway_times), _median_ms(direct_times)
    return {
        "gateway_median_ms": round(gateway_ms, 2),
        "direct_median_ms": round(direct_ms, 2),
        "ratio": round(gateway_ms / direct_ms, 3),
        "direct_masked_median_ms": round(_median_ms(masked_times), 2),
        "gateway_overhead_ratio": round(gateway_ms / _median_ms(masked_times), 3),
        "prepare_median_ms": round(_median_ms(prepare_times), 3),
        "prepare_p99_ms": round(prepare_times[int(len(prepare_times) * 0.99) - 1] * 1000, 3),
        "prepare_cached_median_ms": round(_median_ms(cached_times), 3),
    }
