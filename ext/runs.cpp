// runs.cpp: shared operations on runs and their files.
#include "runs.h"

#include <fcntl.h>
#include <unistd.h>

#include <vector>

#include <fmt/format.h>

#include "db.h"
#include "errors.h"
#include "schema.h"
#include "util.h"

namespace sqlexport {

std::string file_name(const Options &o, Format f, int64_t number, int64_t part) {
  std::string name = part > 0 ? fmt::format("{}-{}-{}.{}", o.output_name, number, part, format_extension(f))
                              : fmt::format("{}-{}.{}", o.output_name, number, format_extension(f));
  name += compression_suffix(o.compression);
  return name;
}

namespace {

// Remove path if it lies directly inside output_dir; never follows a symlink of the folder.
// False only when a file of the folder is still there (its removal failed).
bool remove_confined(const std::string &path, const std::string &output_dir) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos || output_dir.empty()) return true;
  std::string dir = path.substr(0, slash), name = path.substr(slash + 1);
  std::string want = output_dir;
  while (want.size() > 1 && want.back() == '/') want.pop_back();
  if (dir != want || name.empty() || name == "." || name == "..") return true;  // not ours to remove
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  bool gone = unlinkat(fd, name.c_str(), 0) == 0 || errno == ENOENT;
  close(fd);
  return gone;
}

}  // namespace

void delete_run_files(sqlite3 *db, const std::string &run_id, const std::string &output_dir) {
  Stmt s(db, "SELECT path FROM main._export_files WHERE run_id = ?1");
  s.bind(1, run_id);
  while (s.step()) remove_confined(s.text(0), output_dir);
}

void clear_run_files(sqlite3 *db, const std::string &run_id, const std::string &output_dir) {
  delete_run_files(db, run_id, output_dir);
  Stmt del(db, "DELETE FROM main._export_files WHERE run_id = ?1");
  del.bind(1, run_id);
  del.exec();
}

int64_t clear_dead_runs(sqlite3 *db, const std::string &output_dir) {
  if (!schema_exists(db)) return 0;
  std::vector<std::string> ids;
  {
    Stmt q(db,
           "SELECT DISTINCT f.run_id FROM main._export_files f JOIN main._export_runs r ON r.id = f.run_id "
           "WHERE r.status IN ('FAILED', 'ABORTED')");
    while (q.step()) ids.push_back(q.text(0));
  }
  // A record goes only with its file: one whose removal fails now is tried again next time.
  Stmt files(db, "SELECT id, path FROM main._export_files WHERE run_id = ?1");
  Stmt del(db, "DELETE FROM main._export_files WHERE id = ?1");
  for (const auto &id : ids) {
    files.reset();
    files.bind(1, id);
    std::vector<std::string> gone;
    while (files.step())
      if (remove_confined(files.text(1), output_dir)) gone.push_back(files.text(0));
    for (const auto &file_id : gone) {
      del.reset();
      del.bind(1, file_id);
      del.exec();
    }
  }
  return static_cast<int64_t>(ids.size());
}

int64_t purge_expired(sqlite3 *db, const std::string &output_dir) {
  if (!schema_exists(db)) return 0;
  std::string now = now_iso();
  Stmt runs(db,
            "SELECT id FROM main._export_runs WHERE status IN ('COMPLETE', 'DOWNLOADED') AND expires_at IS NOT NULL "
            "AND expires_at <= ?1");
  runs.bind(1, now);
  int64_t n = 0;
  Stmt mark(db, "UPDATE main._export_runs SET status = 'EXPIRED' WHERE id = ?1");
  while (runs.step()) {
    std::string id = runs.text(0);
    delete_run_files(db, id, output_dir);
    mark.reset();
    mark.bind(1, id);
    mark.exec();
    ++n;
  }
  return n;
}

int abort_run(sqlite3 *db, const std::string &run_id) {
  if (!schema_exists(db)) throw ExportError(Code::not_found, fmt::format("no run with id '{}'", run_id));
  Stmt s(db,
         "UPDATE main._export_runs SET status = 'ABORTED', finished_at = ?2, failure_reason = 'interrupted: aborted by "
         "request', lease_owner = NULL, lease_until = NULL WHERE id = ?1 AND status IN ('CREATED', 'RUNNING')");
  s.bind(1, run_id).bind(2, now_iso());
  if (s.exec() > 0) return 1;
  Stmt q(db, "SELECT 1 FROM main._export_runs WHERE id = ?1");
  q.bind(1, run_id);
  if (!q.step()) throw ExportError(Code::not_found, fmt::format("no run with id '{}'", run_id));
  return 0;
}

}  // namespace sqlexport
