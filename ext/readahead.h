// readahead.h: a VFS shim that reads the main database file in 256 KiB blocks, for the
// extension's reader connections (see readahead.cpp for why this is safe).
#pragma once
#include <cstdint>
#include <string>

namespace sqlexport {

// The name of the read-ahead VFS over the VFS named base (empty: the default VFS), registered
// on first use; empty when base is not one of SQLite's unix VFSes (a custom VFS may expect
// page-sized reads, so it is used as it is). Throws std::bad_alloc or SqliteError.
std::string readahead_vfs(const std::string &base);

struct ReadaheadStats {
  uint64_t fills = 0;   // block reads from the file
  uint64_t served = 0;  // reads answered from a block
};
// Counters over every read-ahead file of the process, for tests.
ReadaheadStats readahead_stats_for_testing() noexcept;

}  // namespace sqlexport
