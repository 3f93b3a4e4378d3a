"""Write the sample sessions of doc/cli.rst by running them.

Each session below is a list of commands, run one after the other in a fresh
temporary directory; ``skquant`` is this checkout's command line (``python -m skquant``
with the checkout first on the path) and ``python`` this interpreter. The file
``doc/_cli_<name>.txt`` holds each command after ``$ `` and what it printed, standard
output and standard error in the order they were written, as a terminal shows them.
doc/cli.rst includes the files; tests/test_cli.py runs the sessions again and compares,
so the page cannot go stale. After changing the command line run::

    python doc/_make_cli_examples.py

and commit the files it rewrites (``--check`` only reports the stale ones).
"""

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_WRITE_CSV = (
    "python -c \"from sklearn.datasets import load_diabetes; "
    "load_diabetes(as_frame=True).data.to_csv('diabetes.csv', index=False)\""
)

SESSIONS = {
    "report_help": ["skquant report --help"],
    "report": ["skquant report --bits 1-4"],
    "report_levels": ["skquant report --levels 3,5,10 --quantizer lloyd-max uniform-clip"],
    "encode_help": ["skquant encode --help"],
    "decode_help": ["skquant decode --help"],
    "encode": [
        _WRITE_CSV,
        "skquant encode diabetes.csv -o diabetes.skq --bits 4",
        "skquant decode diabetes.skq -o recon.csv",
    ],
}


def path(name):
    return HERE / f"_cli_{name}.txt"


def _argv(command):
    words = shlex.split(command)
    if words[0] == "skquant":
        return [sys.executable, "-m", "skquant", *words[1:]]
    if words[0] == "python":
        return [sys.executable, *words[1:]]
    raise ValueError(f"a session runs skquant or python, not {words[0]!r}")


def run(name):
    """The text of session ``name``: each command and its output."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "PYTHONUNBUFFERED": "1",  # stdout and stderr in the order they are written
        "COLUMNS": "72",  # the width argparse wraps --help to (fits the page)
    }
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for command in SESSIONS[name]:
            out = subprocess.run(
                _argv(command), cwd=tmp, env=env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, check=False,
            )
            if out.returncode != 0:
                raise RuntimeError(f"{command!r} exited with {out.returncode}:\n{out.stdout}")
            lines.append(f"$ {command}\n{out.stdout}")
    return "".join(lines)


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    stale = []
    for name in SESSIONS:
        text = run(name)
        if path(name).exists() and path(name).read_text(encoding="utf-8") == text:
            continue
        stale.append(path(name).name)
        if not check:
            path(name).write_text(text, encoding="utf-8")
    orphans = sorted({p.name for p in HERE.glob("_cli_*.txt")} - {path(n).name for n in SESSIONS})
    for p in orphans:
        print(f"{p}: no session writes it (remove it)")
    print(("stale: " if check else "rewrote: ") + (", ".join(stale) or "none"))
    return 1 if check and (stale or orphans) else 0


if __name__ == "__main__":
    sys.exit(main())
