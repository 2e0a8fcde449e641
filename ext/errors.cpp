// errors.cpp: names of the error codes.
#include "errors.h"

namespace sqlexport {

const char *code_name(Code code) noexcept {
  switch (code) {
    case Code::invalid_request: return "invalid_request";
    case Code::not_found: return "not_found";
    case Code::state_conflict: return "state_conflict";
    case Code::not_admissible: return "not_admissible";
    case Code::io_error: return "io_error";
    case Code::interrupted: return "interrupted";
    case Code::internal: return "internal";
  }
  return "internal";
}

}  // namespace sqlexport
