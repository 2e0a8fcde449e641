#!/usr/bin/python3
"""Parts, gzip and checksums (SPEC 6 file_max_rows / file_max_bytes / compression, SPEC 7 export_files).

For each split export, compared with the one-file export of the same definition:
  - parts are numbered 1..n and named <output_name>-<run>-<part>.<ext>[.gz] (no part suffix
    without a split option);
  - every part holds at most file_max_rows rows and at most file_max_bytes bytes, counted before
    compression (BOM and header included); a single row larger than the limit gets a part of its
    own; no part is cut early (the next part's first row would not have fitted) and none is empty;
  - every csv/tsv part starts with the BOM and header when asked;
  - the parts, minus their repeated BOM/header, concatenate to exactly the bytes of the one-file
    export, and those re-import to the table's values;
  - gzip parts pass `gzip -t` and decompress to the same bytes;
  - sha256 of each file equals export_files.sha256, size_bytes equals the file's size, row_count
    matches the rows in the file and sums to rows_written, sizes sum to bytes_written;
  - export_download returns the file's bytes; no temporary file is left in the output folder.
"""
import gzip
import json
import os
import tempfile

import exporttest as t

ROWS = t.scaled(10000, 1000)
# limits scaled with the data, so that every split export has several parts
PART_ROWS = ROWS // 10
PART_BYTES = ROWS * 10  # orders rows are ~60-80 bytes of CSV: ~8 parts

folder = tempfile.mkdtemp(prefix="parts-", dir=os.getcwd())
DB_PATH = os.path.join(folder, "data.db")
OUT = os.path.join(folder, "out")
t.make_orders_db(DB_PATH, ROWS)
db = t.connect(DB_PATH, output_dir=OUT)
t.make_edge_table(db)
counter = [0]


def columns_of(table):
    return [r[1] for r in db.execute(f"PRAGMA table_info({table})")]


def expected_rows(table, columns, where=""):
    cols = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    return db.execute(f"SELECT {cols} FROM {table} {where} ORDER BY id").fetchall()


def export(table, fmt, opts, criteria="[]"):
    counter[0] += 1
    name = f"{table}_{fmt}_{counter[0]}"
    t.define(db, name, table, fmt, opts)
    info = t.run(db, name, criteria)
    files = t.check_files(db, info, OUT)
    for f, data in files:
        assert t.scalar(db, "SELECT export_download(?)", (f["id"],)) == data, f"download of {f['path']} differs"
    assert t.leftovers(OUT) == [], f"temporary files left: {t.leftovers(OUT)}"
    return name, info, files


def split_records(body, fmt, opts):
    """Byte lengths of the records in a file body (after BOM and header)."""
    le = opts.get("line_ending", "\n")
    if fmt == "jsonl":
        text = body.decode("utf-8")
        lines = text.split(le)[:-1] if text else []
        return [len((line + le).encode("utf-8")) for line in lines]
    delim = opts.get("delimiter", "\t" if fmt == "tsv" else ",")
    text = body.decode("utf-8", "surrogateescape")
    _, ends = t.parse_dsv(text, delim, le)
    out, start = [], 0
    for e in ends:
        out.append(len(text[start:e].encode("utf-8", "surrogateescape")))
        start = e
    return out


def check_split(table, fmt, opts, criteria="[]", where=""):
    columns = columns_of(table)
    gz = opts.get("compression") == "gzip"
    max_rows = opts.get("file_max_rows", 0)
    max_bytes = opts.get("file_max_bytes", 0)
    split = bool(max_rows or max_bytes)
    base = {k: v for k, v in opts.items() if k not in ("file_max_rows", "file_max_bytes", "compression")}
    label = f"{table} {fmt} {json.dumps(opts)}"

    _, ref_info, ref_files = export(table, fmt, base, criteria)
    assert len(ref_files) == 1, label
    ref = ref_files[0][1]
    bom = b"\xef\xbb\xbf" if opts.get("bom") else b""
    head = bom
    if fmt != "jsonl" and opts.get("header", True):
        first = split_records(ref[len(bom):], fmt, base)[0]
        head = ref[: len(bom) + first]
    ref_body = ref[len(head):]

    name, info, files = export(table, fmt, opts, criteria)
    assert info["rows_written"] == ref_info["rows_written"], (label, info["rows_written"], ref_info["rows_written"])
    ext = fmt + (".gz" if gz else "")
    body = b""
    sizes = []  # (uncompressed size, rows, first record's size)
    for f, data in files:
        want_name = f"{name}-{info['number']}-{f['part']}.{ext}" if split else f"{name}-{info['number']}.{ext}"
        assert os.path.basename(f["path"]) == want_name, (label, f["path"], want_name)
        assert f["compression"] == ("gzip" if gz else "none") and f["format"] == fmt, (label, f)
        if gz:
            assert data[:2] == b"\x1f\x8b", f"{f['path']} is not gzip"
            t.gzip_test(f["path"])
            raw = gzip.decompress(data)
        else:
            raw = data
        assert raw.startswith(head), f"{label}: part {f['part']} does not start with the BOM/header {head[:80]!r}"
        part_body = raw[len(head):]
        recs = split_records(part_body, fmt, base)
        assert len(recs) == f["row_count"], f"{label}: part {f['part']} holds {len(recs)} rows, row_count says {f['row_count']}"
        if max_rows:
            assert f["row_count"] <= max_rows, f"{label}: part {f['part']} has {f['row_count']} rows > {max_rows}"
        if max_bytes:
            assert len(raw) <= max_bytes or f["row_count"] == 1, (
                f"{label}: part {f['part']} has {len(raw)} bytes before compression > {max_bytes} with {f['row_count']} rows")
        if len(files) > 1:
            assert f["row_count"] > 0, f"{label}: part {f['part']} is empty"
        sizes.append((len(raw), f["row_count"], recs[0] if recs else 0))
        body += part_body
    # no part was cut early: the next part's first row did not fit (or the row limit was reached)
    for i in range(len(sizes) - 1):
        size, rows, _ = sizes[i]
        next_first = sizes[i + 1][2]
        by_rows = max_rows and rows == max_rows
        by_bytes = max_bytes and size + next_first > max_bytes
        assert by_rows or by_bytes, (f"{label}: part {i + 1} ({size} bytes, {rows} rows) was closed although the "
                                     f"next row ({next_first} bytes) fits")
    assert body == ref_body, f"{label}: the parts do not concatenate to the one-file export"
    exp = expected_rows(table, columns, where)
    t.compare_export(head + body, fmt, base, columns, exp, label)
    return files


def test_rows_split():
    files = check_split("orders", "csv", {"file_max_rows": PART_ROWS + 1})
    assert len(files) == -(-ROWS // (PART_ROWS + 1)), len(files)
    assert all(f["row_count"] == PART_ROWS + 1 for f, _ in files[:-1])
    assert 0 < files[-1][0]["row_count"] < PART_ROWS + 1


def test_bytes_split():
    files = check_split("orders", "csv", {"file_max_bytes": PART_BYTES})
    assert len(files) > 2, len(files)


def test_both_limits_bom_crlf_tsv():
    check_split("orders", "tsv", {"file_max_bytes": PART_BYTES // 2, "file_max_rows": PART_ROWS * 2 // 3, "bom": True,
                                  "line_ending": "\r\n", "null": "NULL", "blob": "base64"})


def test_jsonl_gzip_bytes_split():
    # highly compressible data: if the limit counted compressed bytes the parts would be far larger
    files = check_split("orders", "jsonl", {"file_max_bytes": PART_BYTES, "compression": "gzip"})
    assert len(files) > 2
    assert all(f["size_bytes"] < PART_BYTES // 2 for f, _ in files), [f["size_bytes"] for f, _ in files]


def test_csv_gzip_rows_split_header():
    check_split("orders", "csv", {"file_max_rows": PART_ROWS * 3, "compression": "gzip", "force_quote": True, "delimiter": ";"})


def test_oversized_rows_get_own_part():
    # the edge table holds a 1 MB text and a 100 KB blob: each row bigger than the limit is alone in its part
    files = check_split("edge", "csv", {"file_max_bytes": 10000})
    big = [f for f, _ in files if f["size_bytes"] > 10000]
    assert len(big) >= 2 and all(f["row_count"] == 1 for f in big), [(f["size_bytes"], f["row_count"]) for f, _ in files]
    check_split("edge", "jsonl", {"file_max_bytes": 10000, "compression": "gzip"})
    check_split("edge", "tsv", {"file_max_bytes": 1, "bom": True})  # every row alone


def test_one_row_per_part():
    crit = json.dumps([{"attribute": "id", "operator": "IS_LESS_THAN_OR_EQUAL_TO", "value": 5}])
    files = check_split("orders", "csv", {"file_max_rows": 1}, crit, "WHERE id <= 5")
    assert len(files) == 5


def test_limit_above_rows_gives_part_1():
    files = check_split("orders", "csv", {"file_max_rows": 10 ** 9})
    assert len(files) == 1 and files[0][0]["part"] == 1


def test_gzip_single_file():
    files = check_split("orders", "csv", {"compression": "gzip"})
    assert len(files) == 1
    files = check_split("edge", "jsonl", {"compression": "gzip", "bom": True})
    assert len(files) == 1


def test_empty_result_split():
    crit = json.dumps([{"attribute": "id", "operator": "IS_LESS_THAN", "value": 0}])
    name, info, files = export("orders", "csv", {"file_max_rows": 10, "compression": "gzip"}, crit)
    assert info["rows_written"] == 0
    assert len(files) == 1 and files[0][0]["row_count"] == 0, [f for f, _ in files]
    assert gzip.decompress(files[0][1]) == b"id,customer,status,total,qty,created_at,note,payload\n"


t.main([test_rows_split, test_bytes_split, test_both_limits_bom_crlf_tsv, test_jsonl_gzip_bytes_split,
        test_csv_gzip_rows_split_header, test_oversized_rows_get_own_part, test_one_row_per_part,
        test_limit_above_rows_gives_part_1, test_gzip_single_file, test_empty_result_split])
