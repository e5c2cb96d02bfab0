#!/usr/bin/python3
"""Compiles every translation unit of a CMake build tree with -fsyntax-only: the compiler's
diagnostics (warnings are errors with MOBILENEXT_WERROR) without code generation, in about a
third of a build's time. Reads compile_commands.json (CMAKE_EXPORT_COMPILE_COMMANDS=ON).

    /usr/bin/python3 tools/syntax_check.py BUILD_DIR [JOBS]

Prints each translation unit that produced any diagnostic, with it; exits 1 if there was one.
"""
import concurrent.futures
import json
import os
import shlex
import subprocess
import sys


def syntax_only(command):
    """The compile command with its output (-c, -o FILE) replaced by -fsyntax-only."""
    args, skip_next = [], False
    for arg in shlex.split(command):
        if skip_next:
            skip_next = False
        elif arg == "-o":
            skip_next = True
        elif arg != "-c":
            args.append(arg)
    return args + ["-fsyntax-only"]


def check(entry):
    run = subprocess.run(syntax_only(entry["command"]), cwd=entry["directory"], capture_output=True, text=True)
    return entry["file"], run.returncode, run.stdout + run.stderr


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    path = os.path.join(sys.argv[1], "compile_commands.json")
    try:
        with open(path, encoding="utf-8") as f:
            entries = json.load(f)
    except OSError as e:
        sys.exit(f"{path}: {e.strerror} (configure with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)")
    jobs = int(sys.argv[2]) if len(sys.argv) == 3 else os.cpu_count()
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for name, code, output in pool.map(check, entries):
            if code != 0 or output:
                failed += 1
                print(f"== {name} (exit status {code})\n{output}", flush=True)
    print(f"{len(entries)} translation units, {failed} with diagnostics")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
