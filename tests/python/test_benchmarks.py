"""Every benchmark script starts as its docstring and `make bench` say: `python
benchmarks/<name>.py` from the repository root, with the flags they show.

One child process runs each script's `--help` the way `python benchmarks/<name>.py` would (the
script's folder first on sys.path, the repository root not on it, no benchmark module left over
from the script before), so that a script that cannot import its neighbours fails here; the
third-party imports are shared, which keeps it to seconds. Imports of benchmark modules inside
functions would escape `--help`, so there must be none.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
SCRIPTS = sorted(
    p
    for p in BENCHMARKS.glob("*.py")
    if p.name != "__init__.py" and "__main__" in p.read_text(encoding="utf-8")
)

DRIVER = r"""
import contextlib, io, json, os, runpy, sys, traceback
repo = os.path.realpath(sys.argv[1])
base = [p for p in sys.path if p and os.path.realpath(p) != repo]
for script in sys.argv[2:]:
    for name in [m for m in sys.modules if m.split(".")[0] in ("benchmarks", "tests")]:
        del sys.modules[name]
    sys.path[:] = [os.path.dirname(script), *base]
    sys.argv = [script, "--help"]
    out, code = io.StringIO(), None
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        code = traceback.format_exc()
    print(json.dumps({"script": script, "code": code, "help": out.getvalue()}), file=sys.__stdout__)
"""


def _commands(text: str, script: str) -> list[str]:
    """The command lines of `text` that run `script`, each with its continuation lines (after
    a backslash, or indented further and starting with an option)."""
    commands: list[str] = []
    lines = text.replace("\\\n", " ").splitlines()
    for i, line in enumerate(lines):
        if f"benchmarks/{script}" not in line or "python" not in line:
            continue
        indent = len(line) - len(line.lstrip())
        for more in lines[i + 1 :]:
            if len(more) - len(more.lstrip()) <= indent or not more.lstrip().startswith(("[", "-")):
                break
            line += " " + more.strip()
        commands.append(line)
    return commands


def _flags(command: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", command))


def test_every_benchmark_runs_as_its_docstring_and_make_bench_say():
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(REPO), *(str(p) for p in SCRIPTS)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    runs = {Path(r["script"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert set(runs) == {p.name for p in SCRIPTS}, result.stderr[-3000:]
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    bench = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    readme = (BENCHMARKS / "README.md").read_text(encoding="utf-8")
    for path in SCRIPTS:
        run = runs[path.name]
        assert run["code"] == 0, f"python benchmarks/{path.name} --help:\n{run['code']}"
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        documented = _commands(docstring, path.name)
        assert documented, f"{path.name}: its docstring shows no `python benchmarks/...` command"
        in_make = _commands(bench, path.name)
        assert in_make, f"`make bench` does not run {path.name}"
        for command in documented + in_make + _commands(readme, path.name):
            unknown = _flags(command) - _flags(run["help"])
            assert not unknown, f"{path.name}: {command.strip()!r} uses {unknown}, not in --help"


def test_benchmark_modules_are_imported_at_the_top_only():
    for path in sorted(BENCHMARKS.glob("*.py")):
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else []
                )
                local = [n for n in names if n.split(".")[0] == "benchmarks"]
                assert not local, f"{path.name}:{node.lineno} imports {local} inside a function"
