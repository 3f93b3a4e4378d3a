"""Every speed ratio of issue 16 in one run: the benchmarks one after the other, each
in a fresh process on the same machine, their tables printed as they come and kept in
``benchmarks/results/speed.txt``.

Rows (each benchmark measures skquant against its floor and its peers in its own run):

1. ``bench_lloyd_max.py``: the exact optimum against ``np.sort``, Ckmeans.1d.dp
   (ckwrap) and kmeans1d; the default fit against the sort floor and its gap to the
   exact optimum on scikit-learn's bundled datasets;
2. ``bench_binary_spherical.py``: ``BinarySphericalEncoder`` fit and transform against
   ``np.packbits(X > 0, axis=1)``, and ``bsq_auxiliary_loss`` against the reference;
3. ``bench_cold_start.py``: import and a fresh process's first fit against
   ``KBinsDiscretizer``; ``skquant --help``/``--version``;
4. ``bench_uniform_clip.py --sort-ratio``: the exact range searches against ``np.sort``;
5. ``bench_transform.py``: ``transform`` against ``X.copy()``.

Run from the repository root, with ``pip install ".[bench]"``::

    python benchmarks/bench_speed.py [--quick]

``--quick`` passes each benchmark its own short mode (fewer repeats or values); the
ratios in the closing notes come from the full run.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

RUNS = [
    ("exact optimum and default fit", ["bench_lloyd_max.py"],
     ["--repeat", "1", "--levels-columns", "1"]),
    ("binary spherical encoder", ["bench_binary_spherical.py"], ["--repeat", "3"]),
    ("cold start", ["bench_cold_start.py"], ["--repeat", "3"]),
    ("exact range search", ["bench_uniform_clip.py", "--sort-ratio"], []),
    ("transform", ["bench_transform.py"], ["--quick"]),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="pass each benchmark its short mode")
    parser.add_argument("--out", default=str(HERE / "results" / "speed.txt"),
                        help="where the combined output is written")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    failed = []
    with out.open("w") as log:
        for title, script, quick in RUNS:
            cmd = [sys.executable, str(HERE / script[0]), *script[1:],
                   *(quick if args.quick else [])]
            head = f"## {title}: {' '.join(['python', 'benchmarks/' + script[0], *cmd[2:]])}"
            print(head, flush=True)
            log.write(head + "\n")
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=HERE.parent, capture_output=True, text=True)
            text = proc.stdout + (proc.stderr if proc.returncode else "")
            tail = f"({time.perf_counter() - t0:.0f} s, exit {proc.returncode})\n"
            print(text + tail, flush=True)
            log.write(text + tail + "\n")
            if proc.returncode:
                failed.append(title)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
