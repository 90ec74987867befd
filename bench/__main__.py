"""`python -m bench`: run the benchmarks and print one line per figure (SPEC §9)."""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import BENCHMARKS, Context, Result
from bench import community as _community  # noqa: F401  (registers its benchmarks)
from bench import events as _events  # noqa: F401
from bench import segments as _segments  # noqa: F401
from bench.setup import DEFAULT_DATA_ROOT, migrated_template, synthetic_data


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--members", type=int, default=730_000,
                        help="members in the synthetic community (default: 730,000)")
    parser.add_argument("--contributions", type=int, default=2_200_000,
                        help="(member, day) contribution rows (default: 2,200,000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default: 1)")
    parser.add_argument("--keep-data", "--data-dir", dest="data_dir", type=Path,
                        default=DEFAULT_DATA_ROOT,
                        help="where generated CSVs are kept and reused (default: bench-data/)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where the benchmark databases go (default: a temporary folder, "
                             "removed afterwards)")
    parser.add_argument("--only", action="append", default=None, metavar="NAME",
                        help="run only these benchmarks (and the ones before them they need); "
                             f"names: {', '.join(b.name for b in BENCHMARKS)}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.members < 1 or args.contributions < 0:
        print("--members must be >= 1 and --contributions >= 0", file=sys.stderr)
        return 2
    selected = BENCHMARKS
    if args.only:
        unknown = set(args.only) - {b.name for b in BENCHMARKS}
        if unknown:
            print(f"unknown benchmark(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        last = max(b.order for b in BENCHMARKS if b.name in args.only)
        selected = [b for b in BENCHMARKS if b.order <= last]

    data_dir, generated_on = synthetic_data(args.data_dir, args.members, args.contributions,
                                            args.seed)
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="engagement-bench-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    failed = False
    try:
        ctx = Context(members=args.members, contributions=args.contributions, seed=args.seed,
                      data_dir=data_dir, generated_on=generated_on, work_dir=work_dir,
                      template_db=migrated_template(work_dir))
        for bench in selected:
            started = time.perf_counter()
            print(f"running {bench.name} ...", flush=True)
            try:
                new = bench.run(ctx)
            except Exception:  # report and stop: later benchmarks depend on earlier ones
                traceback.print_exc()
                print(f"{bench.name}: ERROR", flush=True)
                failed = True
                break
            results.extend(new)
            for r in new:
                print("  " + r.line(), flush=True)
            print(f"  ({bench.name} took {time.perf_counter() - started:.1f} s in all)")
    finally:
        if args.work_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)
    print("\nsummary")
    for r in results:
        print(r.line())
    passed = sum(r.passed for r in results)
    print(f"{passed}/{len(results)} targets met" + ("; a benchmark errored" if failed else ""))
    return 1 if failed or passed < len(results) else 0


if __name__ == "__main__":
    sys.exit(main())
