"""Peak memory and throughput of sampling a Parquet file larger than memory.

Writes a Parquet file of ``--rows`` rows and eight float64 columns (by
default 50 million rows, about 3 GB), generated and written one row group
at a time so that writing it stays within memory too. Column ``c0`` holds
positive weights and ``c1`` a stratum label with 100 values. Then, each in a
fresh Python process, it draws a 1 % sample from the file:

- weighted by ``c0`` (successive design, one pass);
- stratified by ``c1`` with proportional allocation (one pass);
- uniformly at random (one pass).

Each child measures its peak resident memory (``ru_maxrss``) and subtracts
its resident memory after the imports, so the number is what sampling
itself used. The target is a peak under 1 GB for the 50-million-row file.

Usage::

    python benchmarks/bench_sampling_files.py                  # 50 M rows
    python benchmarks/bench_sampling_files.py --rows 10000000 --path /data
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time

import skfast.sampling as sampling
import pyarrow, pyarrow.dataset, pyarrow.parquet

def rss_bytes():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()

path, method, frac, batch_size = sys.argv[1:5]
frac = float(frac)
from skfast.sampling import _files
if batch_size != "default":
    _files.DEFAULT_BATCH_SIZE = int(batch_size)
rows = pyarrow.parquet.ParquetFile(path).metadata.num_rows
n = int(round(frac * rows))
baseline = rss_bytes()
start = time.perf_counter()
if method == "weighted":
    sample = sampling.weighted_sample(path, n, weights="c0", random_state=0)
elif method == "stratified":
    sample = sampling.stratified_sample(path, "c1", n, random_state=0)
else:
    sample = sampling.random_sample(path, n, random_state=0)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak": peak, "baseline": baseline,
                  "rows": rows, "sampled": sample.num_rows,
                  "sample_bytes": sample.nbytes}))
"""


def write_file(path, n_rows, chunk_rows):
    """Write the benchmark file one row group at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    generator = np.random.default_rng(0)
    names = [f"c{i}" for i in range(8)]
    schema = pa.schema([(name, pa.float64()) for name in names])
    start = time.perf_counter()
    with pq.ParquetWriter(path, schema) as writer:
        for first in range(0, n_rows, chunk_rows):
            size = min(chunk_rows, n_rows - first)
            columns = [
                generator.exponential(size=size),
                np.floor(generator.random(size) * 100),
                *generator.standard_normal((6, size)),
            ]
            writer.write_table(pa.table(dict(zip(names, columns, strict=True))))
    print(f"wrote {n_rows:,} rows in {time.perf_counter() - start:.1f} s")


def measure(path, method, frac, batch_size):
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), method, str(frac), batch_size],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--frac", type=float, default=0.01)
    parser.add_argument(
        "--path", help="Folder for the file (default: a temporary folder)."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the file.")
    parser.add_argument(
        "--batch-size", default="default", help="Rows per batch (default: skfast's)."
    )
    parser.add_argument(
        "--methods", default="weighted,stratified,random", help="Comma-separated."
    )
    args = parser.parse_args()

    folder = Path(args.path or tempfile.mkdtemp(prefix="skfast-bench-"))
    path = folder / f"bench_{args.rows}.parquet"
    try:
        if not path.exists():
            write_file(path, args.rows, 1 << 20)
        size = path.stat().st_size
        print(
            f"file: {path} ({args.rows:,} rows x 8 float64 columns, "
            f"{size / 2**30:.2f} GiB on disk, {args.rows * 64 / 2**30:.2f} GiB "
            "in memory)"
        )
        for method in args.methods.split(","):
            result = measure(path, method, args.frac, args.batch_size)
            used = result["peak"] - result["baseline"]
            print(
                f"{method:<11} {result['sampled']:>10,} rows sampled  "
                f"time {result['seconds']:7.2f} s  "
                f"{result['rows'] / result['seconds'] / 1e6:7.1f} M rows/s  "
                f"peak RSS {result['peak'] / 2**20:7.0f} MiB  "
                f"(sampling {used / 2**20:6.0f} MiB, of which the sample "
                f"{result['sample_bytes'] / 2**20:5.0f} MiB)  "
                f"{'under' if result['peak'] < 1e9 else 'OVER'} 1 GB"
            )
    finally:
        if not args.keep and args.path is None:
            path.unlink(missing_ok=True)
            folder.rmdir()


if __name__ == "__main__":
    main()
