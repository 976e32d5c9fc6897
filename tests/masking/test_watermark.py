"""Export watermarks and leak tracing: round trips, invisibility, and how reliably a partial
copy of an export is traced back to it (run with ``-s`` to see the measured rates)."""

import csv
import datetime
import io
import json
import random
from decimal import Decimal

import pytest
from faker import Faker

from apps.masking import watermark
from apps.masking.watermark import (
    ALPHABET,
    CONTENT_MIN_SCORE,
    CONTENT_MIN_VALUES,
    FINGERPRINT_MAX_HASHES,
    MARK_LENGTH,
    LeakMatch,
    fingerprint,
    fingerprint_score,
    leak_candidates,
    marks_found,
    rows_watermarked,
)

KEY = b"warden-installation-a-watermark-key"
OTHER_KEY = b"warden-installation-b-watermark-key"
STORE_SIZE = 50
TRIALS_PER_SCENARIO = 60
WITHOUT_ZERO_WIDTH = dict.fromkeys(map(ord, ALPHABET))

COLUMNS = ("id", "full_name", "email", "city", "company", "signed_up", "amount", "ratio", "active", "note", "phone")


def _fake_value(fake, column, row_number):
    if column == "id":
        return row_number
    if column == "signed_up":
        return fake.date_between(start_date=datetime.date(2015, 1, 1), end_date=datetime.date(2025, 12, 31))
    if column == "amount":
        return Decimal(fake.random_int(0, 1_000_000)) / 100
    if column == "ratio":
        return round(fake.random.random(), 4)
    if column == "active":
        return fake.boolean()
    if column == "note":
        return fake.sentence(nb_words=5) if fake.boolean() else None
    return {"full_name": fake.name, "email": fake.email, "city": fake.city,
            "company": fake.company, "phone": fake.phone_number}[column]()


def _fake_export(fake, rng, *, rows, columns=None):
    """A query result of the kind the gateway exports: ``rows`` rows of ``columns``, by default
    a random choice of COLUMNS."""
    columns = columns or sorted(rng.sample(COLUMNS, rng.randint(4, len(COLUMNS))), key=COLUMNS.index)
    return columns, [[_fake_value(fake, column, n) for column in columns] for n in range(1, rows + 1)]


def _json_value(value):
    return value if value is None or isinstance(value, (bool, int, float)) else str(value)


def _csv(columns, rows, quoting=csv.QUOTE_MINIMAL):
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=quoting)
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def _serialised(columns, rows, form):
    """The export as the gateway writes it, or as it is pasted back."""
    if form == "csv":
        return _csv(columns, rows)
    if form == "csv, every cell quoted":
        return _csv(columns, rows, csv.QUOTE_ALL)
    if form == "spreadsheet paste":
        return "\n".join("\t".join("" if value is None else str(value) for value in row) for row in rows)
    if form == "json":
        return json.dumps({"columns": columns, "rows": [[_json_value(value) for value in row] for row in rows]})
    if form == "json records, indented":
        records = [{column: _json_value(value) for column, value in zip(columns, row)} for row in rows]
        return json.dumps(records, indent=2, ensure_ascii=False)
    raise AssertionError(form)


FORMS = ("csv", "csv, every cell quoted", "spreadsheet paste", "json", "json records, indented")


def _rows_subset(rng, rows, count):
    return sorted(rng.sample(range(len(rows)), min(count, len(rows))))


def _scenario_cut(rng, scenario, columns, rows):
    """(column indexes, row indexes) a leak of this kind keeps, in the leaked order."""
    all_columns = list(range(len(columns)))
    if scenario == "whole export":
        return all_columns, list(range(len(rows)))
    if scenario == "10% of rows":
        return all_columns, _rows_subset(rng, rows, max(1, len(rows) // 10))
    if scenario == "1% of rows":
        return all_columns, _rows_subset(rng, rows, max(1, len(rows) // 100))
    if scenario == "one row":
        return all_columns, _rows_subset(rng, rows, 1)
    if scenario == "one column":
        return [rng.choice(all_columns)], list(range(len(rows)))
    if scenario == ">=5 rows x >=2 columns, shuffled":
        kept_columns = rng.sample(all_columns, rng.randint(2, len(columns)))
        kept_rows = _rows_subset(rng, rows, rng.randint(5, max(5, len(rows) // 4)))
        rng.shuffle(kept_rows)
        return kept_columns, kept_rows
    raise AssertionError(scenario)


SCENARIOS = ("whole export", "10% of rows", "1% of rows", "one row", "one column",
             ">=5 rows x >=2 columns, shuffled", "one text cell")


def _leak(rng, scenario, export):
    """(marked text, the same text with every zero-width character stripped, whether a marked
    cell survived) for one random partial copy of ``export``. The stripped text is the copy
    written from the unmarked rows: the invisibility test shows the two are the same."""
    columns, rows, marked = export["columns"], export["rows"], export["marked"]
    if scenario == "one text cell":
        cells = [(r, c) for r, row in enumerate(rows) for c, value in enumerate(row) if isinstance(value, str)]
        if not cells:
            return None
        r, c = rng.choice(cells)
        return marked[r][c], rows[r][c], marked[r][c] != rows[r][c]
    kept_columns, kept_rows = _scenario_cut(rng, scenario, columns, rows)
    form = rng.choice(FORMS)
    header = [columns[c] for c in kept_columns]
    cut = [[marked[r][c] for c in kept_columns] for r in kept_rows]
    clean = [[rows[r][c] for c in kept_columns] for r in kept_rows]
    return _serialised(header, cut, form), _serialised(header, clean, form), cut != clean


@pytest.fixture(scope="module")
def store():
    """STORE_SIZE exports as the gateway would keep them: serial -> rows, marked rows, fingerprint."""
    fake, rng = Faker(), random.Random(20261124)
    fake.seed_instance(20261124)
    exports = {}
    for _ in range(STORE_SIZE):
        serial = rng.randrange(1, 2**40)
        columns, rows = _fake_export(fake, rng, rows=rng.randint(10, 150))
        exports[serial] = {
            "columns": columns,
            "rows": rows,
            "marked": rows_watermarked(rows, serial=serial, key=KEY),
            "fingerprint": fingerprint(rows, key=KEY),
        }
    return exports


@pytest.fixture(scope="module")
def unrelated_texts():
    """Files that came from no export in the store: the same kinds of columns from other
    people, marked and unmarked, plus text of other shapes."""
    fake, rng = Faker(), random.Random(7)
    fake.seed_instance(7)
    texts = []
    for _ in range(60):
        columns, rows = _fake_export(fake, rng, rows=rng.randint(5, 80))
        serial = rng.randrange(1, 2**40)
        for table in (rows, rows_watermarked(rows, serial=serial, key=OTHER_KEY)):
            texts.append(_serialised(columns, table, rng.choice(FORMS)))
    for _ in range(10):
        # Dates and amounts repeat across unrelated tables more than names do.
        columns, rows = _fake_export(fake, rng, rows=150, columns=["id", "signed_up", "amount", "ratio", "active"])
        texts.append(_serialised(columns, rows, rng.choice(FORMS)))
    texts.append("\n\n".join(fake.paragraph(nb_sentences=8) for _ in range(5)))
    texts.append(_csv(["n", "flag", "label"], [[n, n % 2 == 0, f"item {n}"] for n in range(1, 500)]))
    texts.append(json.dumps({"debug": False, "workers": 4, "hosts": ["db1.internal", "db2.internal"]}))
    texts.append("".join(rng.choice(ALPHABET + "abc, ") for _ in range(20_000)))
    return texts


def _rate(successes, trials):
    return f"{successes}/{trials} = {successes / trials:.1%}" if trials else "n/a"


@pytest.mark.parametrize("form", FORMS)
def test_mark_survives_csv_and_json_round_trips(form):
    rows = [["Ada Lovelace", "ada@example.com", Decimal("12.50"), 3, None], ["Alan Turing", "", Decimal("7"), 4, True]]
    marked = rows_watermarked(rows, serial=987_654_321, key=KEY)

    text = _serialised(["name", "email", "amount", "n", "flag"], marked, form)

    assert marks_found(text, key=KEY) == {987_654_321: 3}


def test_json_with_escaped_invisible_characters_still_carries_the_mark():
    marked = rows_watermarked([["Grace Hopper"]], serial=42, key=KEY)
    text = json.dumps(marked)

    assert "\\u200b" in text and "\u200b" not in text
    assert marks_found(text, key=KEY) == {42: 1}


def test_unmarked_file_and_file_marked_under_another_key_carry_no_mark():
    rows = [["Ada Lovelace", "ada@example.com"]]

    assert marks_found(_csv(["a", "b"], rows), key=KEY) == {}
    assert marks_found(_csv(["a", "b"], rows_watermarked(rows, serial=5, key=OTHER_KEY)), key=KEY) == {}


def test_one_copied_cell_names_the_export():
    cell = rows_watermarked([["x", "Ada Lovelace"]], serial=2**40 - 1, key=KEY)[0][1]

    assert marks_found(f"who is {cell}?", key=KEY) == {2**40 - 1: 1}


def test_an_altered_mark_names_no_export():
    cell = rows_watermarked([["Ada Lovelace"]], serial=1234, key=KEY)[0][0]
    position = len("Ada Lovelace") + MARK_LENGTH // 2
    symbol = ALPHABET[(ALPHABET.index(cell[position]) + 1) % len(ALPHABET)]

    assert marks_found(cell[:position] + symbol + cell[position + 1:], key=KEY) == {}


def test_mark_after_text_ending_in_a_zero_width_joiner_is_still_found():
    technologist = "\U0001f469\u200d\U0001f4bb"
    cell = rows_watermarked([[technologist + "\u200d"]], serial=77, key=KEY)[0][0]

    assert cell.startswith(technologist + "\u200d")
    assert marks_found(cell, key=KEY) == {77: 1}


@pytest.mark.parametrize("serial", [0, -1, 2**40])
def test_serial_outside_40_bits_is_refused(serial):
    with pytest.raises(ValueError, match="serial"):
        rows_watermarked([["a"]], serial=serial, key=KEY)


def test_watermarking_is_deterministic():
    rows = [["Ada Lovelace", Decimal("1.5")], ["Alan Turing", None]]

    assert rows_watermarked(rows, serial=9, key=KEY) == rows_watermarked(rows, serial=9, key=KEY)
    assert rows_watermarked(rows, serial=9, key=KEY) != rows_watermarked(rows, serial=10, key=KEY)


def test_watermarked_text_without_zero_width_characters_equals_the_original(store):
    for export in list(store.values())[:10]:
        for form in FORMS:
            original = _serialised(export["columns"], export["rows"], form)
            marked = _serialised(export["columns"], export["marked"], form)

            assert marked != original
            if form == "json":
                marked = json.dumps(json.loads(marked), ensure_ascii=False)
                original = json.dumps(json.loads(original), ensure_ascii=False)
            assert marked.translate(WITHOUT_ZERO_WIDTH) == original


def test_marks_leave_numbers_dates_booleans_none_and_typed_strings_untouched():
    values = [7, 2.5, Decimal("12.50"), datetime.date(2024, 5, 1), datetime.datetime(2024, 5, 1, 9, 30),
              True, None, "", "   ", "02134", "1,234.50", "-3e5", "TRUE", "2024-05-01", "2024-05-01 09:30:00",
              "05/01/2024", "09:30"]

    marked = rows_watermarked([values], serial=3, key=KEY)[0]

    assert all(after is before for after, before in zip(marked, values))


def test_text_cells_get_an_invisible_suffix_of_fixed_length():
    marked = rows_watermarked([["Ada", "Lovelace Ltd.", "555-1234 x9"]], serial=3, key=KEY)[0]

    assert [len(cell) for cell in marked] == [3 + MARK_LENGTH, 13 + MARK_LENGTH, 11 + MARK_LENGTH]
    assert all(set(cell[-MARK_LENGTH:]) <= set(ALPHABET) for cell in marked)


@pytest.mark.parametrize(
    "exported, leaked",
    [
        (Decimal("12.50"), "12.50"),
        (Decimal("12.50"), "12.5"),
        (Decimal("12.50"), '"12.50"'),
        (12.5, "12.500"),
        (Decimal("1E+3"), "1000"),
        (1_000_000, "1000000.0"),
        (datetime.date(2024, 5, 1), "2024-05-01"),
        (datetime.datetime(2024, 5, 1, 9, 30), '"2024-05-01 09:30:00"'),
        ("Ada  Lovelace", " ada lovelace "),
        ("Ｗａｒｄｅｎ", "warden"),
    ],
    ids=lambda value: repr(value),
)
def test_fingerprint_matches_a_value_however_it_was_written(exported, leaked):
    assert fingerprint_score(leaked, fingerprint([[exported]], key=KEY), key=KEY) == 1.0


def test_fingerprint_matches_csv_and_json_writings_of_the_same_export():
    rows = [["Ada Lovelace", Decimal("12.50"), datetime.date(2024, 5, 1), 0.125, None, False]]
    export_fingerprint = fingerprint(rows, key=KEY)
    as_json = json.dumps([[_json_value(value) for value in rows[0]] + [12.5]])

    assert fingerprint_score(_csv([], rows), export_fingerprint, key=KEY) == 1.0
    assert fingerprint_score(as_json, export_fingerprint, key=KEY) == 1.0


def test_fingerprint_ignores_values_that_identify_nothing():
    assert fingerprint([[None, True, False, "M", "yes", 42, "null", ""]], key=KEY) == b""


def test_fingerprint_is_sorted_hashes_and_depends_on_the_key():
    rows = [[f"customer {n}", f"c{n}@example.com"] for n in range(100)]
    export_fingerprint = fingerprint(rows, key=KEY)
    hashes = [export_fingerprint[i:i + 4] for i in range(0, len(export_fingerprint), 4)]

    assert len(hashes) == 200 and hashes == sorted(set(hashes))
    assert fingerprint(rows, key=KEY) == export_fingerprint
    assert fingerprint(rows, key=OTHER_KEY) != export_fingerprint
    assert fingerprint(rows_watermarked(rows, serial=4, key=KEY), key=KEY) == export_fingerprint


def test_large_export_fingerprint_is_sampled_to_64_kib_and_still_traces_a_subset():
    rng = random.Random(3)
    rows = [[f"{rng.getrandbits(48):x}", f"user{n}@example.com", Decimal(rng.randrange(10**8)) / 100]
            for n in range(12_000)]
    export_fingerprint = fingerprint(rows, key=KEY)
    leaked = _csv(["id", "email", "amount"], rng.sample(rows, 200))

    found = leak_candidates(leaked, key=KEY, fingerprints={1: fingerprint(rows[:50], key=KEY), 2: export_fingerprint})

    assert len(export_fingerprint) == 4 * FINGERPRINT_MAX_HASHES == 65_536
    assert [(match.serial, match.method) for match in found] == [(2, "content")]
    # Only the leaked values whose hash falls in the sampled range are judged: about 16,384 of
    # the export's 36,000 values, so about 45% of the 600 leaked values.
    assert found[0].score > 0.95 and 200 < found[0].cells < 400


@pytest.mark.parametrize(
    "pasted, values",
    [
        ("Ada Lovelace\tada@example.com\t12.50\nAlan Turing\talan@example.org\t7.25", 6),
        (" full_name    | email            | amount\n Ada Lovelace | ada@example.com | 12.50\n"
         " Alan Turing  | alan@example.org | 7.25", 6),
        ("Ada Lovelace ada@example.com 12.50\nAlan Turing alan@example.org 7.25", 6),
        ('lace", "email": "ada@example.com", "amount": "12.50"}, {"name": "Alan Turing", '
         '"email": "alan@example.org", "amount": "7.25"}, {"name": "Gr', 5),
        ('["Ada Lovelace", "ada@example.com", "12.50"], ["Alan Turing", "alan@example.org", "7.25"]', 6),
    ],
    ids=["spreadsheet", "psql", "whitespace", "json fragment", "json rows"],
)
def test_pasted_text_of_any_shape_is_traced_by_content(pasted, values):
    rows = [["Ada Lovelace", "ada@example.com", Decimal("12.50")], ["Alan Turing", "alan@example.org", Decimal("7.25")],
            ["Grace Hopper", "grace@example.net", Decimal("3.10")]]
    stored = {1: fingerprint(rows, key=KEY), 2: fingerprint([["Ada Lovelace", "someone@else.org"]], key=KEY)}

    found = leak_candidates(pasted, key=KEY, fingerprints=stored)

    assert [(match.serial, match.method) for match in found] == [(1, "content")]
    assert found[0].score >= CONTENT_MIN_SCORE and found[0].cells == values


def test_csv_whose_cells_hold_json_text_is_read_as_csv():
    rows = [["Ada Lovelace", '{"plan": "gold"}'], ["Alan Turing", "plain"], ["Grace Hopper", "plain"]]

    assert fingerprint_score(_csv(["name", "note"], rows), fingerprint(rows, key=KEY), key=KEY) == 5 / 7


def test_paste_opening_an_unterminated_quoted_field_is_still_read():
    rows = [[f"customer {n}", f"c{n}@example.com"] for n in range(5_000)]
    pasted = '"Ada Lovelace, ' + _csv(["name", "email"], rows)

    assert fingerprint_score(pasted, fingerprint(rows, key=KEY), key=KEY) > 0.99


def test_marks_rank_before_content_and_a_marked_serial_is_not_repeated():
    rows_a = [[f"alpha customer {n}", f"a{n}@example.com"] for n in range(10)]
    rows_b = [[f"beta customer {n}", f"b{n}@example.com"] for n in range(10)]
    leaked = _csv(["name", "email"], rows_watermarked(rows_a[:2], serial=11, key=KEY) + rows_b[:8])
    stored = {11: fingerprint(rows_a, key=KEY), 12: fingerprint(rows_b, key=KEY)}

    found = leak_candidates(leaked, key=KEY, fingerprints=stored)

    assert [(match.serial, match.method, match.cells) for match in found] == [(11, "mark", 4), (12, "content", 16)]
    assert found[0].score == 1.0


def test_file_resaved_in_a_legacy_code_page_is_traced_by_content(store):
    serial, export = next(iter(store.items()))
    marked = _csv(export["columns"], export["marked"][:8])
    resaved = marked.encode("cp1252", errors="replace").decode("cp1252")
    fingerprints = {serial: export["fingerprint"] for serial, export in store.items()}

    found = leak_candidates(resaved, key=KEY, fingerprints=fingerprints)

    assert "?" * MARK_LENGTH in resaved and marks_found(resaved, key=KEY) == {}
    assert found[0].serial == serial and found[0].method == "content"


def test_two_exports_holding_the_leaked_rows_are_both_content_candidates():
    rows = [[f"customer {n}", f"c{n}@example.com"] for n in range(20)]
    stored = {1: fingerprint(rows, key=KEY), 2: fingerprint(rows[:10], key=KEY), 3: fingerprint(rows[10:], key=KEY)}

    found = leak_candidates(_csv([], rows[:6]), key=KEY, fingerprints=stored)

    assert [(match.serial, match.score) for match in found] == [(1, 1.0), (2, 1.0)]


def test_identification_rate_by_mark_over_partial_copies(store):
    rng = random.Random(1)
    serials = list(store)
    fingerprints = {serial: export["fingerprint"] for serial, export in store.items()}
    report = []
    for scenario in SCENARIOS:
        identified = with_marked_cell = wrong = 0
        for _ in range(TRIALS_PER_SCENARIO):
            serial = rng.choice(serials)
            leak = _leak(rng, scenario, store[serial])
            if leak is None or not leak[2]:
                continue
            with_marked_cell += 1
            found = leak_candidates(leak[0], key=KEY, fingerprints=fingerprints)
            identified += found[0] == LeakMatch(serial=serial, method="mark", score=1.0, cells=found[0].cells)
            wrong += any(match.serial != serial for match in found)
        report.append((scenario, identified, with_marked_cell, wrong))

    print("\nmark: exports named first, among copies where a marked text cell survived")
    for scenario, identified, trials, wrong in report:
        print(f"  {scenario:36} {_rate(identified, trials):>18}   other serials named: {wrong}")
    assert all(trials >= TRIALS_PER_SCENARIO // 2 for _, _, trials, _ in report)
    assert all(identified == trials and wrong == 0 for _, identified, trials, wrong in report)


def test_identification_rate_by_content_with_zero_width_characters_stripped(store):
    rng = random.Random(2)
    serials = list(store)
    fingerprints = {serial: export["fingerprint"] for serial, export in store.items()}
    report = []
    for scenario in SCENARIOS:
        first = trials = named_wrongly_first = 0
        for _ in range(TRIALS_PER_SCENARIO):
            serial = rng.choice(serials)
            leak = _leak(rng, scenario, store[serial])
            if leak is None:
                continue
            trials += 1
            found = leak_candidates(leak[1], key=KEY, fingerprints=fingerprints)
            first += bool(found) and found[0].serial == serial and found[0].method == "content"
            named_wrongly_first += bool(found) and found[0].serial != serial
        report.append((scenario, first, trials, named_wrongly_first))

    print(f"\ncontent: the right export ranked first among {STORE_SIZE}, invisible characters stripped")
    for scenario, identified, trials, wrong in report:
        print(f"  {scenario:36} {_rate(identified, trials):>18}   another export ranked first: {wrong}")
    rates = {scenario: identified / trials for scenario, identified, trials, _ in report}
    assert rates["whole export"] == 1.0
    assert rates["10% of rows"] >= 0.95
    assert rates[">=5 rows x >=2 columns, shuffled"] >= 0.95
    # One row or one column is often too few informative values (a header row weighs as much
    # as the row; a column of flags identifies nothing); one cell always is.
    assert rates["1% of rows"] >= 0.8 and rates["one row"] >= 0.75 and rates["one column"] >= 0.7
    assert rates["one text cell"] == 0.0
    assert all(wrong == 0 for *_, wrong in report)


def test_unrelated_files_name_no_export(store, unrelated_texts, monkeypatch):
    fingerprints = {serial: export["fingerprint"] for serial, export in store.items()}

    named = [leak_candidates(text, key=KEY, fingerprints=fingerprints) for text in unrelated_texts]
    # With the thresholds lifted, the best chance match any export reaches: the safety margin.
    monkeypatch.setattr(watermark, "CONTENT_MIN_SCORE", 0.0)
    monkeypatch.setattr(watermark, "CONTENT_MIN_VALUES", 1)
    chance = [match for text in unrelated_texts for match in leak_candidates(text, key=KEY, fingerprints=fingerprints)]
    best = max(chance, key=lambda match: match.score)

    print(f"\nunrelated files: {len(unrelated_texts)}, exports named: {sum(map(len, named))}; best chance match "
          f"{best.score:.2f} ({best.cells} values), thresholds {CONTENT_MIN_SCORE} and {CONTENT_MIN_VALUES} values")
    assert named == [[] for _ in unrelated_texts]
    assert best.method == "content" and best.score < CONTENT_MIN_SCORE
