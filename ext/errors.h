// errors.h: the error codes of SPEC section 8 and the exception that carries them inside the
// extension. No ExportError ever crosses into SQLite: every callback catches and reports it as
// "<function>: <code>: <message>".
#pragma once
#include <stdexcept>
#include <string>

namespace sqlexport {

enum class Code { invalid_request, not_found, state_conflict, not_admissible, io_error, interrupted, internal };

// Return the code's name as users see it, e.g. "invalid_request".
const char *code_name(Code code) noexcept;

class ExportError : public std::runtime_error {
 public:
  ExportError(Code code, const std::string &message) : std::runtime_error(message), code_(code) {}
  Code code() const noexcept { return code_; }
  // "code: message", the form stored in export_runs.failure_reason.
  std::string reason() const { return std::string(code_name(code_)) + ": " + what(); }

 private:
  Code code_;
};

// SQLite reported an error on a connection; carries the SQLite result code.
class SqliteError : public std::runtime_error {
 public:
  SqliteError(int rc, const std::string &message) : std::runtime_error(message), rc_(rc) {}
  int rc() const noexcept { return rc_; }

 private:
  int rc_;
};

}  // namespace sqlexport
