// test_paths.cpp: issue 8, test 8 (the file-system half; the output_name half is
// tests/sql/security_names.sql): symlinks planted at the final and temporary file names, as
// the output folder itself and as its entries; file paths tampered in the database; hostile
// rows planted in the extension's own tables. Nothing is ever written, read or removed
// outside the output folder, and no symlink is followed.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>

#include "security_util.h"
#include "testdb.h"

using namespace security;
using testdb::Db;
using testdb::Folder;
namespace fs = std::filesystem;

namespace {

const std::string kSecret = "outside file: must stay as it is\n";

// A database with table t (3 rows) and definitions x (one file) and p (parts of 1 row).
void setup(const Db &d) {
  d.exec("PRAGMA journal_mode = WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
         "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');"
         "INSERT INTO exports(name, source) VALUES ('x', 't');"
         "INSERT INTO exports(name, source, options) VALUES ('p', 't', '{\"file_max_rows\": 1}');");
}

const std::string kExpected = "id,v\n1,a\n2,b\n3,c\n";

std::string sql_error(const Db &d, const std::string &sql) {
  try {
    d.text(sql);
  } catch (const std::exception &e) {
    std::string msg = e.what();
    return msg.substr(0, msg.find(" in: "));
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("paths: a symlink at the final name is replaced, never followed", "[security][paths]") {
  Folder f;
  write_file(f / "outside.txt", kSecret);
  fs::create_directory(f / "a.db-exports");
  fs::create_symlink(f / "outside.txt", f / "a.db-exports/x-1.csv");
  fs::create_symlink(f / "nowhere.txt", f / "a.db-exports/x-2.csv");  // dangling: must not create its target
  Db d(f / "a.db");
  setup(d);
  CHECK(d.text("SELECT export_wait(export_run('x', '[]'))") == "COMPLETE");
  CHECK(d.text("SELECT export_wait(export_run('x', '[]'))") == "COMPLETE");
  CHECK(read_file(f / "outside.txt") == kSecret);
  CHECK_FALSE(fs::exists(fs::symlink_status(f / "nowhere.txt")));
  for (const char *name : {"x-1.csv", "x-2.csv"}) {
    CHECK(is_regular(f / ("a.db-exports/" + std::string(name))));
    CHECK(read_file(f / ("a.db-exports/" + std::string(name))) == kExpected);
  }
}

TEST_CASE("paths: output folder entries that are symlinks are never followed", "[security][paths]") {
  // Every name a split run will use, planted as symlinks to files and to a folder outside.
  Folder f;
  write_file(f / "outside.txt", kSecret);
  fs::create_directory(f / "elsewhere");
  fs::create_directory(f / "a.db-exports");
  fs::create_symlink(f / "outside.txt", f / "a.db-exports/p-1-1.csv");
  fs::create_symlink(f / "elsewhere", f / "a.db-exports/p-1-2.csv");
  fs::create_symlink(f / "elsewhere/new.csv", f / "a.db-exports/p-1-3.csv");
  Db d(f / "a.db");
  setup(d);
  CHECK(d.text("SELECT export_wait(export_run('p', '[]'))") == "COMPLETE");
  CHECK(d.integer("SELECT count(*) FROM export_files") == 3);
  CHECK(read_file(f / "outside.txt") == kSecret);
  CHECK(entries(f / "elsewhere").empty());
  CHECK(read_file(f / "a.db-exports/p-1-1.csv") == "id,v\n1,a\n");
  CHECK(read_file(f / "a.db-exports/p-1-3.csv") == "id,v\n3,c\n");
  for (const char *name : {"p-1-1.csv", "p-1-2.csv", "p-1-3.csv"}) CHECK(is_regular(f / ("a.db-exports/" + std::string(name))));
  CHECK(entries(f / "a.db-exports") == std::set<std::string>{"p-1-1.csv", "p-1-2.csv", "p-1-3.csv"});
}

TEST_CASE("paths: a symlink at the temporary name fails the run and is not followed", "[security][paths]") {
  Folder f;
  write_file(f / "outside.txt", kSecret);
  fs::create_directory(f / "a.db-exports");
  Db d(f / "a.db");
  setup(d);
  // Queue the run with no worker, so its id (and so its temporary names) is known first.
  d.exec("SELECT export_config('workers', 0)");
  std::string id = d.text("SELECT export_run('x', '[]')");
  for (int token = 1; token <= 3; ++token) {
    std::string tmp = ".x-1.csv." + id + "-" + std::to_string(token) + ".tmp";
    if (token == 2)
      fs::create_symlink(f / "created-by-export.txt", f / ("a.db-exports/" + tmp));  // dangling
    else
      fs::create_symlink(f / "outside.txt", f / ("a.db-exports/" + tmp));
  }
  d.exec("SELECT export_config('workers', 1)");
  CHECK(d.text("SELECT export_wait(" + q(id) + ")") == "FAILED");
  std::string reason = d.text("SELECT failure_reason FROM export_runs WHERE id = " + q(id));
  CHECK(reason == "io_error: create '" + (f / "a.db-exports/.x-1.csv.") + id + "-1.tmp': File exists");
  CHECK(read_file(f / "outside.txt") == kSecret);
  CHECK_FALSE(fs::exists(fs::symlink_status(f / "created-by-export.txt")));
  CHECK_FALSE(fs::exists(fs::symlink_status(f / "a.db-exports/x-1.csv")));
  // The planted links were not the run's: they are left alone (not unlinked as its temporaries).
  CHECK(is_symlink(f / "a.db-exports/.x-1.csv." + id + "-1.tmp"));
}

TEST_CASE("paths: an output folder that is a symlink is refused", "[security][paths]") {
  Folder f;
  fs::create_directory(f / "target");
  fs::create_symlink(f / "target", f / "a.db-exports");
  Db d(f / "a.db");
  setup(d);
  std::string id = d.text("SELECT export_run('x', '[]')");
  CHECK(d.text("SELECT export_wait(" + q(id) + ")") == "FAILED");
  CHECK(d.text("SELECT failure_reason FROM export_runs WHERE id = " + q(id)) ==
        "io_error: cannot open output folder '" + (f / "a.db-exports") + "': is a symbolic link");
  CHECK(entries(f / "target").empty());
  CHECK(d.integer("SELECT count(*) FROM export_files") == 0);

  // The same through export_config: a symlink to a folder, and a dangling one.
  fs::create_symlink(f / "target", f / "link");
  fs::create_symlink(f / "missing", f / "dangling");
  for (const char *out : {"link", "dangling"}) {
    d.exec("SELECT export_config('output_dir', " + q(f / out) + ")");
    std::string run = d.text("SELECT export_run('x', '[]')");
    CHECK(d.text("SELECT export_wait(" + q(run) + ")") == "FAILED");
    CHECK(d.text("SELECT failure_reason FROM export_runs WHERE id = " + q(run)) ==
          "io_error: cannot open output folder '" + (f / out) + "': is a symbolic link");
  }
  CHECK(entries(f / "target").empty());
  CHECK_FALSE(fs::exists(f / "missing"));
}

TEST_CASE("paths: export_download and DELETE refuse a tampered file path", "[security][paths]") {
  Folder f;
  write_file(f / "outside.txt", kSecret);
  Db d(f / "a.db");
  setup(d);
  std::string out = f / "a.db-exports";
  CHECK(d.text("SELECT export_wait(export_run('x', '[]'))") == "COMPLETE");
  std::string file_id = d.text("SELECT id FROM export_files");
  const std::string dl = "SELECT export_download(" + q(file_id) + ")";
  auto set_path = [&](const std::string &path) {
    d.exec("UPDATE _export_files SET path = " + q(path) + ", size_bytes = 10");
  };
  // Outside the folder, by absolute path or by "..".
  set_path("/etc/passwd");
  CHECK(sql_error(d, dl) ==
        "export_download: not_admissible: file '/etc/passwd' is not in this connection's output folder '" + out + "'");
  set_path(out + "/../outside.txt");
  CHECK(sql_error(d, dl) == "export_download: not_admissible: file '" + out +
                                "/../outside.txt' is not in this connection's output folder '" + out + "'");
  set_path(f / "outside.txt");
  CHECK_THAT(sql_error(d, dl), Catch::StartsWith("export_download: not_admissible: "));
  // Inside the folder, but a symlink to a file outside: not followed.
  fs::create_symlink(f / "outside.txt", out + "/link.csv");
  set_path(out + "/link.csv");
  CHECK(sql_error(d, dl) == "export_download: io_error: open '" + out + "/link.csv': Too many levels of symbolic links");
  // The folder itself swapped for a symlink to a folder holding a file of that name.
  fs::create_directory(f / "decoy");
  write_file(f / "decoy/x-1.csv", kSecret);
  set_path(out + "/x-1.csv");
  fs::rename(out, f / "real-out");
  fs::create_symlink(f / "decoy", out);
  CHECK_THAT(sql_error(d, dl), Catch::StartsWith("export_download: io_error: open '" + out + "': "));
  fs::remove(out);
  fs::rename(f / "real-out", out);
  CHECK(d.integer("SELECT count(*) FROM export_files WHERE downloaded_at IS NOT NULL") == 0);

  // Deleting the run removes only what is inside the folder: never the tampered target, and a
  // symlink in the folder is removed as a link, its target untouched.
  set_path(f / "outside.txt");
  d.exec("DELETE FROM export_runs");
  CHECK(read_file(f / "outside.txt") == kSecret);
  CHECK(d.text("SELECT export_wait(export_run('x', '[]'))") == "COMPLETE");
  set_path(out + "/../outside.txt");
  d.exec("DELETE FROM export_runs");
  CHECK(read_file(f / "outside.txt") == kSecret);
  CHECK(d.text("SELECT export_wait(export_run('x', '[]'))") == "COMPLETE");
  set_path(out + "/link.csv");
  d.exec("DELETE FROM export_runs");
  CHECK(read_file(f / "outside.txt") == kSecret);
  CHECK_FALSE(fs::exists(fs::symlink_status(out + "/link.csv")));
}

TEST_CASE("paths: rows planted in the extension's tables cannot steer files out", "[security][paths]") {
  Folder f;
  Db d(f / "a.db");
  setup(d);
  d.exec("SELECT export_config('workers', 0)");
  // A definition whose stored output_name was tampered with: every run is refused.
  d.exec("UPDATE _export_definitions SET options = json_set(options, '$.output_name', '../../escaped') WHERE name = 'x'");
  CHECK(sql_error(d, "SELECT export_run('x', '[]')") ==
        "export_run: invalid_request: option 'output_name' must be 1 to 150 letters, digits, '.', '_' or '-', not "
        "starting with '.', not \"../../escaped\"");
  // A run queued behind the extension's back for that definition fails in the worker.
  d.exec("INSERT INTO _export_runs(id, export_id, number, status, criteria, created_at) "
         "SELECT 'planted-run-1', id, 99, 'CREATED', '[]', '2026-01-01T00:00:00.000Z' FROM _export_definitions "
         "WHERE name = 'x'");
  // A run whose attach list asks the worker to create or open files elsewhere.
  d.exec("INSERT INTO _export_runs(id, export_id, number, status, criteria, attach, created_at) "
         "SELECT 'planted-run-2', id, 98, 'CREATED', '[]', json_object('evil', " +
         q("file:" + (f / "created.db") + "?mode=rwc") +
         "), '2026-01-01T00:00:00.000Z' FROM _export_definitions WHERE name = 'p'");
  d.exec("INSERT INTO _export_runs(id, export_id, number, status, criteria, attach, created_at) "
         "SELECT 'planted-run-3', id, 97, 'CREATED', '[]', json_object('evil', " +
         q(f / "plain-created.db") + "), '2026-01-01T00:00:00.000Z' FROM _export_definitions WHERE name = 'p'");
  d.exec("SELECT export_config('workers', 1)");
  CHECK(d.text("SELECT export_wait('planted-run-1')") == "FAILED");
  CHECK(d.text("SELECT failure_reason FROM export_runs WHERE id = 'planted-run-1'") ==
        "invalid_request: option 'output_name' must be 1 to 150 letters, digits, '.', '_' or '-', not starting with "
        "'.', not \"../../escaped\"");
  for (const char *run : {"planted-run-2", "planted-run-3"}) {
    CHECK(d.text(std::string("SELECT export_wait('") + run + "')") == "FAILED");
    CHECK_THAT(d.text(std::string("SELECT failure_reason FROM export_runs WHERE id = '") + run + "'"),
               Catch::StartsWith("internal: cannot attach the run's databases: "));
  }
  CHECK_FALSE(fs::exists(f / "created.db"));
  CHECK_FALSE(fs::exists(f / "plain-created.db"));
  CHECK_FALSE(fs::exists(f / "escaped"));
  for (const auto &name : entries(f.path)) {
    CAPTURE(name);
    CHECK((name == "a.db" || name == "a.db-shm" || name == "a.db-wal" || name == "a.db-exports"));
  }
  CHECK(entries(f / "a.db-exports").empty());
}
