#!/usr/bin/python3
"""Parts, gzip and checksums (SPEC 6 file_max_rows / file_max_bytes / compression, SPEC 7 export_files).

For each split export, compared with the one-file export of the same definition:
  - parts are numbered 1..n and named <output_name>-<run>-<part>.<ext>[.gz] (no part suffix
    without a split option);
  - every part holds at most file_max_rows rows and at most file_max_bytes bytes (BOM and header
    included), counted on disk: after compression for gzip and zstd parts; a single row larger
    than the limit gets a part of its own; no part is cut early (the next part's first row would
    not have fitted; for a compressed part, not within the codec's worst case) and none is empty;
  - every csv/tsv part starts with the BOM and header when asked;
  - the parts, minus their repeated BOM/header, concatenate to exactly the bytes of the one-file
    export, and those re-import to the table's values;
  - gzip parts pass `gzip -t` and decompress (Python's gzip) to the same bytes; zstd parts pass
    `zstd -t` and decompress (`zstd -dc`) to the same bytes;
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


SUFFIX = {"none": "", "gzip": ".gz", "zstd": ".zst"}


def decompress(f, data):
    """The content of an exported file, through a reader this project did not write."""
    comp = f["compression"]
    if comp == "gzip":
        assert data[:2] == b"\x1f\x8b", f"{f['path']} is not gzip"
        t.gzip_test(f["path"])
        return gzip.decompress(data)
    if comp == "zstd":
        assert data[:4] == b"\x28\xb5\x2f\xfd", f"{f['path']} is not zstd"
        return t.zstd_decompress(f["path"])
    return data


def check_split(table, fmt, opts, criteria="[]", where=""):
    columns = columns_of(table)
    comp = opts.get("compression", "none")
    max_rows = opts.get("file_max_rows", 0)
    max_bytes = opts.get("file_max_bytes", 0)
    split = bool(max_rows or max_bytes)
    base = {k: v for k, v in opts.items() if k not in ("file_max_rows", "file_max_bytes", "compression", "compression_level")}
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
    ext = fmt + SUFFIX[comp]
    body = b""
    sizes = []  # (uncompressed size, rows, first record's size)
    for f, data in files:
        want_name = f"{name}-{info['number']}-{f['part']}.{ext}" if split else f"{name}-{info['number']}.{ext}"
        assert os.path.basename(f["path"]) == want_name, (label, f["path"], want_name)
        assert f["compression"] == comp and f["format"] == fmt, (label, f)
        raw = decompress(f, data)
        assert raw.startswith(head), f"{label}: part {f['part']} does not start with the BOM/header {head[:80]!r}"
        part_body = raw[len(head):]
        recs = split_records(part_body, fmt, base)
        assert len(recs) == f["row_count"], f"{label}: part {f['part']} holds {len(recs)} rows, row_count says {f['row_count']}"
        if max_rows:
            assert f["row_count"] <= max_rows, f"{label}: part {f['part']} has {f['row_count']} rows > {max_rows}"
        if max_bytes:
            assert len(data) <= max_bytes or f["row_count"] == 1, (
                f"{label}: part {f['part']} has {len(data)} bytes on disk > {max_bytes} with {f['row_count']} rows")
        if len(files) > 1:
            assert f["row_count"] > 0, f"{label}: part {f['part']} is empty"
        sizes.append((len(data), f["row_count"], recs[0] if recs else 0))
        body += part_body
    # no part was cut early: the next part's first row did not fit (or the row limit was reached)
    for i in range(len(sizes) - 1):
        size, rows, _ = sizes[i]
        next_first = sizes[i + 1][2]
        by_rows = max_rows and rows == max_rows
        # a compressed part stops when the codec's worst case for the next row might not fit:
        # about the row itself plus a few hundred bytes (gzip: 18 a member and 5 a block;
        # zstd: 3 a block, 64 for a small input, 32 for the frame's end)
        slack = 0 if comp == "none" else 512
        by_bytes = max_bytes and size + next_first + slack > max_bytes
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


def test_jsonl_compressed_bytes_split():
    # the limit counts compressed bytes: each part holds far more than the limit's worth of JSON
    for comp in ("gzip", "zstd"):
        files = check_split("orders", "jsonl", {"file_max_bytes": PART_BYTES // 4, "compression": comp})
        assert len(files) > 2, (comp, len(files))
        assert all(f["size_bytes"] <= PART_BYTES // 4 for f, _ in files), [f["size_bytes"] for f, _ in files]
        raw = [len(decompress(f, data)) for f, data in files]
        assert all(r > PART_BYTES // 2 for r in raw[:-1]), (comp, raw)


def test_csv_compressed_rows_split_header():
    for comp in ("gzip", "zstd"):
        check_split("orders", "csv", {"file_max_rows": PART_ROWS * 3, "compression": comp, "force_quote": True,
                                      "delimiter": ";"})
    check_split("orders", "tsv", {"file_max_rows": PART_ROWS * 3, "file_max_bytes": PART_BYTES // 8,
                                  "compression": "zstd", "compression_level": 19})


def test_oversized_rows_get_own_part():
    # the edge table holds a 1 MB text and a 100 KB blob: each row bigger than the limit is alone in its part
    files = check_split("edge", "csv", {"file_max_bytes": 10000})
    big = [f for f, _ in files if f["size_bytes"] > 10000]
    assert len(big) >= 2 and all(f["row_count"] == 1 for f in big), [(f["size_bytes"], f["row_count"]) for f, _ in files]
    check_split("edge", "jsonl", {"file_max_bytes": 10000, "compression": "gzip"})
    check_split("edge", "csv", {"file_max_bytes": 10000, "compression": "zstd"})
    check_split("edge", "tsv", {"file_max_bytes": 1, "bom": True})  # every row alone


def test_one_row_per_part():
    crit = json.dumps([{"attribute": "id", "operator": "IS_LESS_THAN_OR_EQUAL_TO", "value": 5}])
    files = check_split("orders", "csv", {"file_max_rows": 1}, crit, "WHERE id <= 5")
    assert len(files) == 5


def test_limit_above_rows_gives_part_1():
    files = check_split("orders", "csv", {"file_max_rows": 10 ** 9})
    assert len(files) == 1 and files[0][0]["part"] == 1


def test_compressed_single_file():
    for comp in ("gzip", "zstd"):
        files = check_split("orders", "csv", {"compression": comp})
        assert len(files) == 1
        files = check_split("edge", "jsonl", {"compression": comp, "bom": True})
        assert len(files) == 1


def test_empty_result_split():
    crit = json.dumps([{"attribute": "id", "operator": "IS_LESS_THAN", "value": 0}])
    for comp in ("gzip", "zstd"):
        name, info, files = export("orders", "csv", {"file_max_rows": 10, "compression": comp}, crit)
        assert info["rows_written"] == 0
        assert len(files) == 1 and files[0][0]["row_count"] == 0, [f for f, _ in files]
        assert decompress(files[0][0], files[0][1]) == b"id,customer,status,total,qty,created_at,note,payload\n"
        # with no header either, the file is a valid, empty compressed file
        name, info, files = export("orders", "jsonl", {"compression": comp}, crit)
        assert len(files) == 1 and len(files[0][1]) > 0 and decompress(files[0][0], files[0][1]) == b""


t.main([test_rows_split, test_bytes_split, test_both_limits_bom_crlf_tsv, test_jsonl_compressed_bytes_split,
        test_csv_compressed_rows_split_header, test_oversized_rows_get_own_part, test_one_row_per_part,
        test_limit_above_rows_gives_part_1, test_compressed_single_file, test_empty_result_split])
