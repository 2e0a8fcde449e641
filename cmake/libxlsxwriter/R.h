/* R.h for libxlsxwriter as this project compiles it (CMakeLists.txt): with USE_R_LANG, the
 * library's only switch for where its diagnostics go, they go to REprintf instead of stderr. An
 * extension must not print on its host's stderr: ext/xlsx_hooks.cpp keeps the last message of
 * each thread for the run's error text instead. The name is mapped to one of ours, so that the
 * static library does not define R's REprintf. */
#ifndef SQLEXPORT_LXW_R_H
#define SQLEXPORT_LXW_R_H
#ifdef __cplusplus
extern "C" {
#endif
#define REprintf sqlexport_lxw_report
void sqlexport_lxw_report(const char *format, ...) __attribute__((format(printf, 1, 2)));
#ifdef __cplusplus
}
#endif
#endif
