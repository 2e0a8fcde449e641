#!/usr/bin/python3
"""measure.py: run one command and report its wall time, CPU time and peak RSS.

    /usr/bin/python3 bench/measure.py [--stdout FILE] [--env K=V]... -- CMD ARG...

prints one JSON object on stdout:

    {"rc": 0, "wall_s": 1.23, "user_s": 0.98, "sys_s": 0.12, "cpu_s": 1.10,
     "maxrss_kib": 5948, "rss_exact": true, "stdout": "...", "stderr": "..."}

CPU time (user + sys, all threads) comes from os.wait4, so it is the child's alone, not
this Python process's. Peak RSS needs care: a child that Python starts records, when it
calls exec, the peak RSS of the Python process it was forked from (about 10 MiB), so
os.wait4's ru_maxrss can never be below that. When /usr/bin/time exists the command is
started through it (a small C program that forks it afresh) and its %M is the command's
true peak ("rss_exact": true); otherwise ru_maxrss is reported and "rss_exact" is false
(values near "rss_floor_kib" are then upper bounds).

--stdout FILE sends the child's standard output to FILE (as the shell's `> FILE`
would) instead of capturing it. bench/bench.py imports run() directly.
"""
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time

TIME = "/usr/bin/time"


def run(argv, stdout_path=None, env=None, cwd=None, stdin_data=None, timeout_s=None):
    """Run argv to completion; return a dict with rc, wall_s, user_s, sys_s, cpu_s,
    maxrss_kib, and the captured stdout/stderr text (stdout empty when redirected).
    A child still running after timeout_s seconds is killed with its process group
    (timed_out true)."""
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    out_f = open(stdout_path, "wb") if stdout_path else tempfile.TemporaryFile()
    err_f = tempfile.TemporaryFile()
    in_f = None
    if stdin_data is not None:
        in_f = tempfile.TemporaryFile()
        in_f.write(stdin_data.encode())
        in_f.seek(0)
    try:
        rss_file = None
        if os.access(TIME, os.X_OK):
            rss_file = tempfile.NamedTemporaryFile(prefix="measure-", suffix=".txt", delete=False)
            rss_file.close()
            argv = [TIME, "-q", "-f", "%M", "-o", rss_file.name, *argv]
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out_f, stderr=err_f, stdin=in_f if in_f else subprocess.DEVNULL,
                                env=full_env, cwd=cwd, start_new_session=True)
        # On timeout, kill the whole process group (the command and /usr/bin/time around it).
        timer = threading.Timer(timeout_s, os.killpg, (proc.pid, signal.SIGKILL)) if timeout_s else None
        if timer:
            timer.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: the timer can no longer signal it
        if timer:
            timer.cancel()
        timed_out = bool(timeout_s) and wall >= timeout_s
        out_text = ""
        if not stdout_path:
            out_f.seek(0)
            out_text = out_f.read().decode("utf-8", "replace")
        err_f.seek(0)
        err_text = err_f.read().decode("utf-8", "replace")
        maxrss, exact = ru.ru_maxrss, False  # Linux reports KiB
        if rss_file:
            with open(rss_file.name) as f:
                lines = [ln.strip() for ln in f.read().splitlines() if ln.strip()]
            os.unlink(rss_file.name)
            if lines and lines[-1].isdigit():
                maxrss, exact = int(lines[-1]), True
    finally:
        out_f.close()
        err_f.close()
        if in_f:
            in_f.close()
    return {
        "rc": proc.returncode,
        "wall_s": wall,
        "user_s": ru.ru_utime,
        "sys_s": ru.ru_stime,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "maxrss_kib": maxrss,
        "rss_exact": exact,
        "rss_floor_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "timed_out": timed_out,
        "stdout": out_text,
        "stderr": err_text + (f"\nmeasure.py: killed after {timeout_s} s" if timed_out else ""),
    }


def main():
    args = sys.argv[1:]
    stdout_path = None
    env = {}
    while args and args[0] != "--":
        if args[0] == "--stdout" and len(args) > 1:
            stdout_path = args[1]
            args = args[2:]
        elif args[0] == "--env" and len(args) > 1 and "=" in args[1]:
            k, v = args[1].split("=", 1)
            env[k] = v
            args = args[2:]
        else:
            print(__doc__, file=sys.stderr)
            return 2
    if not args or len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    res = run(args[1:], stdout_path=stdout_path, env=env or None)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
