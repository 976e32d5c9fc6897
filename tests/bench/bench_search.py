"""Catalog search over 5,000 tables and 100,000 columns.

Builds the tables in a project's warehouse schema (DDL in batches, with comments), harvests
them through the real harvest (the Celery task, run eagerly: ``harvest_s``), classifies the
columns a scan would (mobile, email, ...) and refreshes their documents, then times 200
representative searches through ``catalog_search`` (exact names, prefixes, typos, words
from descriptions, filters by level and sensitive type; each with its facets and first page).

Figures: median_ms, p95_ms (goal: under 100), harvest_s, and for context tables, columns,
refresh_s (rebuilding every search document), and the median hit count.
"""

import random
import statistics
import time

TABLES = 5_000
COLUMNS_PER_TABLE = 20
DDL_BATCH = 250
QUERIES = 200
SEED = 20261123

ENTITIES = ["customers", "orders", "payments", "invoices", "shipments", "products", "employees", "accounts",
            "suppliers", "refunds", "visitors", "sessions", "contracts", "claims", "policies", "devices",
            "campaigns", "tickets", "deliveries", "subscriptions"]
DOMAINS = ["sales", "finance", "hr", "marketing", "logistics", "support", "risk", "retail", "web", "crm"]
SUFFIXES = ["daily", "monthly", "raw", "clean", "snapshot", "history", "staging", "agg", "dim", "fact"]
# name, type, comment, sensitive type code (what a scan would classify it as)
COLUMN_POOL = [
    ("full_name", "text", "Customer full name as entered at sign-up", "person_name"),
    ("mobile", "varchar(20)", "Mobile phone number, E.164", "mobile_phone"),
    ("email", "text", "Contact email address", "email"),
    ("national_id", "varchar(18)", "Resident identity card number", "national_id"),
    ("bank_card", "varchar(19)", "Bank card used for payment", "bank_card"),
    ("salary", "numeric(12,2)", "Monthly gross salary", "salary"),
    ("home_address", "text", "Postal address of the household", "address"),
    ("birthday", "date", "Date of birth", "birthday"),
    ("client_ip", "inet", "Source address of the request", "ip_address"),
    ("passport_no", "varchar(12)", "Passport number for travel bookings", "passport"),
    ("amount", "numeric(12,2)", "Amount in the account currency", None),
    ("currency", "char(3)", "ISO 4217 currency code", None),
    ("status", "text", "Lifecycle status of the record", None),
    ("created_at", "timestamptz", "When the record was created", None),
    ("updated_at", "timestamptz", "When the record last changed", None),
    ("region_code", "text", "Sales region of the branch", None),
    ("channel", "text", "Acquisition channel, online or store", None),
    ("quantity", "integer", "Number of items", None),
    ("discount_rate", "numeric(5,4)", "Discount applied at checkout", None),
    ("warehouse_code", "text", "Fulfilment warehouse", None),
    ("carrier", "text", "Shipping carrier", None),
    ("tracking_no", "text", "Parcel tracking number", None),
    ("product_sku", "text", "Stock keeping unit", None),
    ("category_name", "text", "Merchandise category", None),
    ("loyalty_tier", "text", "Loyalty programme tier", None),
    ("risk_score", "real", "Fraud risk score from the model", None),
    ("is_active", "boolean", "Whether the record is live", None),
    ("notes", "text", "Free text remarks", None),
    ("batch_id", "bigint", "Loading batch", None),
    ("source_system", "text", "System of record the row came from", None),
    ("tax_amount", "numeric(12,2)", "Value added tax", None),
    ("invoice_no", "text", "Invoice number printed on the document", None),
    ("contract_term", "integer", "Contract length in months", None),
    ("device_model", "text", "Handset model reported by the app", None),
    ("session_length", "integer", "Seconds from first to last event", None),
    ("ticket_priority", "text", "Support ticket priority", None),
    ("employee_grade", "text", "Pay grade", None),
    ("department", "text", "Organisational unit", None),
    ("manager_ref", "bigint", "Line manager", None),
    ("supplier_ref", "bigint", "Supplying company", None),
]


def _catalog_ddl(schema: str, rng: random.Random) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(table names, DDL statements, (table, column) pairs of every column)."""
    names, statements, columns = [], [], []
    for n in range(TABLES):
        entity = ENTITIES[n % len(ENTITIES)]
        name = f"{DOMAINS[(n // len(ENTITIES)) % len(DOMAINS)]}_{entity}_{SUFFIXES[(n // 200) % len(SUFFIXES)]}_{n}"
        names.append(name)
        chosen = rng.sample(COLUMN_POOL, COLUMNS_PER_TABLE - 1)
        definitions = ", ".join(["id bigint"] + [f"{c[0]} {c[1]}" for c in chosen])
        statements.append(f"CREATE TABLE {schema}.{name} ({definitions})")
        statements.append(f"COMMENT ON TABLE {schema}.{name} IS 'The {entity} of the {DOMAINS[n % len(DOMAINS)]} "
                          f"domain, loaded {SUFFIXES[n % len(SUFFIXES)]} from {rng.choice(DOMAINS)} systems'")
        for column in chosen[:5]:
            statements.append(f"COMMENT ON COLUMN {schema}.{name}.{column[0]} IS '{column[2]}'")
        columns.extend((name, c[0]) for c in [("id",)] + chosen)
    return names, statements, columns


def _typo(word: str, rng: random.Random) -> str:
    """Drop, double or swap one letter in the middle of ``word``."""
    i = rng.randrange(2, max(3, len(word) - 2))
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]


def _queries(tables: list[str], schema: str, rng: random.Random) -> list[tuple[str, dict]]:
    from apps.catalog.models import SensitiveType

    types = {t.code: t.pk for t in SensitiveType.objects.filter(tenant=None)}
    queries: list[tuple[str, dict]] = []
    queries += [(rng.choice(tables), {}) for _ in range(30)]  # exact table names
    queries += [(f"{schema}.{rng.choice(tables)}", {}) for _ in range(5)]
    queries += [(rng.choice(COLUMN_POOL)[0], {}) for _ in range(20)]  # exact column names
    queries += [(rng.choice(ENTITIES)[:4], {}) for _ in range(15)]  # prefixes
    queries += [(rng.choice(COLUMN_POOL)[0][:5], {}) for _ in range(15)]
    queries += [(_typo(rng.choice(ENTITIES), rng), {}) for _ in range(25)]  # typos
    queries += [(_typo(rng.choice(COLUMN_POOL)[0], rng), {}) for _ in range(15)]
    description_words = ["phone", "address", "salary", "payment", "carrier", "fraud", "checkout", "passport",
                         "identity card", "currency code", "loyalty programme", "tracking number"]
    queries += [(rng.choice(description_words), {}) for _ in range(40)]  # words from descriptions
    queries += [(rng.choice(ENTITIES), {"level": rng.choice([4, 5, 8])}) for _ in range(10)]  # filtered
    queries += [("", {"level": 8}) for _ in range(3)]
    codes = [c[3] for c in COLUMN_POOL if c[3]]
    queries += [(rng.choice(["", "customers", "amount"]), {"sensitive_type": types[rng.choice(codes)]})
                for _ in range(12)]
    queries += [(rng.choice(ENTITIES), {"kind": "table"}) for _ in range(10)]
    assert len(queries) == QUERIES, len(queries)
    rng.shuffle(queries)
    return queries


def _classify_like_a_scan(data_source) -> None:
    """Give the sensitive columns their type and default level in one statement, as a scan
    would have done over time."""
    from django.db import connection

    from apps.catalog.models import Column, SensitiveType, Table

    pairs = [(name, code) for name, _, _, code in COLUMN_POOL if code]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {Column._meta.db_table} c SET classification_id = st.id, sensitivity_level = st.default_level
                FROM {SensitiveType._meta.db_table} st, {Table._meta.db_table} t,
                     unnest(%s::text[], %s::text[]) AS m(column_name, code)
                WHERE st.tenant_id IS NULL AND st.code = m.code AND c.name = m.column_name
                  AND t.id = c.table_id AND t.data_source_id = %s""",
            [[p[0] for p in pairs], [p[1] for p in pairs], data_source.pk],
        )


def run() -> dict[str, float]:
    from django.db import connection, connections

    from apps.catalog import services
    from apps.catalog.models import Column, HarvestStatus, SearchDocument, Table
    from apps.catalog.search import SearchFilters, catalog_search, search_documents_refresh
    from apps.tenancy import services as tenancy_services

    rng = random.Random(SEED)
    owner = tenancy_services.tenant_signup(tenant_name="bench_search", username="bench_search_owner",
                                           password="bench-password-not-secret")
    project = tenancy_services.project_create(actor=owner, name="bench_search")
    schema = project.schema_name
    tables, statements, _ = _catalog_ddl(schema, rng)
    with connections["warehouse"].cursor() as cursor:
        for start in range(0, len(statements), DDL_BATCH):
            cursor.execute(";\n".join(statements[start:start + DDL_BATCH]))

    # The task runs eagerly when the harvest's transaction commits (see tests/bench/__main__).
    started = time.perf_counter()
    run = services.project_harvest_start(actor=owner, project=project)
    harvest_s = time.perf_counter() - started
    run.refresh_from_db()
    if run.status != HarvestStatus.SUCCEEDED:
        raise RuntimeError(f"the harvest ended {run.status}: {run.error}")
    data_source = run.data_source
    table_count = Table.objects.filter(data_source=data_source).count()
    column_count = Column.objects.filter(table__data_source=data_source).count()
    if (table_count, column_count) != (TABLES, TABLES * COLUMNS_PER_TABLE):
        raise RuntimeError(f"harvested {table_count} tables and {column_count} columns")

    _classify_like_a_scan(data_source)
    started = time.perf_counter()
    search_documents_refresh(tables=Table.objects.filter(data_source=data_source))
    refresh_s = time.perf_counter() - started
    if SearchDocument.objects.filter(data_source=data_source).count() != table_count + column_count:
        raise RuntimeError("search documents are missing")
    # What autovacuum does after a bulk change, done now rather than whenever it wakes up.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {SearchDocument._meta.db_table}")

    queries = _queries(tables, schema, rng)
    for q, filters in queries[:20]:  # warm up connections and caches
        catalog_search(user=owner, q=q, filters=SearchFilters(**filters))
    timings, hit_counts = [], []
    for q, filters in queries:
        started = time.perf_counter()
        result = catalog_search(user=owner, q=q, filters=SearchFilters(**filters))
        timings.append((time.perf_counter() - started) * 1000)
        hit_counts.append(result.count)
    exact = catalog_search(user=owner, q=tables[42])
    if not exact.hits or exact.hits[0].document.name != tables[42]:
        raise RuntimeError(f"the exact name {tables[42]} was not the first hit")

    return {
        "median_ms": statistics.median(timings),
        "p95_ms": statistics.quantiles(timings, n=20, method="inclusive")[18],
        "harvest_s": harvest_s,
        "refresh_s": refresh_s,
        "tables": float(table_count),
        "columns": float(column_count),
        "median_hits": statistics.median(hit_counts),
        "queries": float(len(timings)),
    }
