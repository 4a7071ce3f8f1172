"""The reliability campaign: damaged inputs of every format, and `kill -9` during every kind of
save. Prints a table of outcomes per target and exits non-zero when any outcome that must never
happen (crash, hang, silent wrong result, partial load, unclear error) was seen.

    .venv/bin/python tests/reliability/run_campaign.py                 # fast subset (make test)
    HUGECTR_TF_CAMPAIGN=long .venv/bin/python tests/reliability/run_campaign.py   # long run

Options: --scale fast|long (default: $HUGECTR_TF_CAMPAIGN or fast), --seed N, --json FILE,
--keep DIR (keep the damaged files there), --only formats|kill.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

import formats  # noqa: E402
import kill_save  # noqa: E402
from runner import Pool  # noqa: E402

CASE_TIMEOUT_S = 300  # a case answers in about a second, even on a loaded machine


def run_formats(pool, folder, scale, seed, log):
    corpus = pool.ask({"id": "corpus", "op": "corpus", "folder": str(folder / "corpus")})
    if corpus["status"] != "ok":
        raise RuntimeError(f"building the corpus failed: {corpus}")
    corpus["folder"] = str(folder / "corpus")
    baseline_names = formats._copy_snapshot(
        corpus["names"], Path(corpus["names"]["manifest"]).parent, folder / "baseline"
    )
    loads = ["dense", "opt_dense", "sparse", "opt_sparse"]
    base = pool.ask({"id": "baseline", "op": "load", "names": baseline_names, "loads": loads})
    if base["status"] != "ok":
        raise RuntimeError(f"loading the undamaged snapshot failed: {base}")
    cases = formats.build_cases(corpus, folder / "cases", scale, seed, base["digest"])
    log(f"format campaign: {len(cases)} damaged inputs")
    results = []
    for i, case in enumerate(cases):
        answer = pool.ask({"id": i, **case.request})
        outcome = case.judge(answer)
        results.append((case, outcome, answer))
        if outcome in formats.MUST_BE_ZERO:
            log(f"case {i}/{len(cases)} {case.target} {case.name}: {outcome}")
        elif (i + 1) % 200 == 0:
            log(f"case {i + 1}/{len(cases)}")
    return results


def summarize(results):
    table = defaultdict(Counter)
    for case, outcome, _ in results:
        table[case.target][outcome] += 1
    return table


def markdown(table, classes):
    lines = ["| target | tried | " + " | ".join(c.replace("_", " ") for c in classes) + " |"]
    lines.append("|---" * (len(classes) + 2) + "|")
    total = Counter()
    for target in sorted(table):
        row = table[target]
        total.update(row)
        counts = " | ".join(str(row[c]) for c in classes)
        lines.append(f"| {target} | {sum(row.values())} | {counts} |")
    counts = " | ".join(f"**{total[c]}**" for c in classes)
    lines.append(f"| **all** | **{sum(total.values())}** | {counts} |")
    return "\n".join(lines), total


def findings(results, must_be_zero):
    out = []
    for case, outcome, answer in results:
        if outcome in must_be_zero:
            out.append(
                {
                    "target": case.target,
                    "damage": case.name,
                    "outcome": outcome,
                    "expected": case.expect[0],
                    "answer": {k: v for k, v in answer.items() if k not in ("records", "rebuilt")},
                }
            )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default=os.environ.get("HUGECTR_TF_CAMPAIGN", "fast"))
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", help="write the figures and findings to this file")
    parser.add_argument("--keep", help="folder for the damaged files (kept)")
    parser.add_argument("--only", choices=("formats", "kill"))
    args = parser.parse_args(argv)
    if args.scale not in formats.SCALES:
        parser.error(f"--scale must be one of {sorted(formats.SCALES)}. Received: {args.scale!r}")

    def log(message):
        print(message, flush=True)

    started = time.time()
    report = {"scale": args.scale, "seed": args.seed}
    bad = 0
    with tempfile.TemporaryDirectory(prefix="hctr_campaign_") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        pool = Pool(folder / "workers", CASE_TIMEOUT_S)
        try:
            # The kill trials run in the background while the worker works through the formats.
            kills = None
            if args.only in (None, "kill"):
                kills = kill_save.start(folder / "kill", args.scale, args.seed)
            if args.only in (None, "formats"):
                results = run_formats(pool, folder / "formats", args.scale, args.seed, log)
                table, total = markdown(summarize(results), formats.CLASSES)
                log(f"\n## Damaged inputs ({args.scale}, seed {args.seed})\n\n{table}\n")
                report["formats"] = {"total": dict(total)}
                report["formats"]["findings"] = findings(results, formats.MUST_BE_ZERO)
                bad += sum(total[c] for c in formats.MUST_BE_ZERO)
            if kills is not None:
                trials = kill_save.check(kills, pool, log)
                table, total = markdown(kill_save.summarize(trials), kill_save.CLASSES)
                log(f"\n## kill -9 during saves ({args.scale}, seed {args.seed})\n\n{table}\n")
                report["kill"] = {"total": dict(total), "trials": trials}
                bad += sum(total[c] for c in kill_save.MUST_BE_ZERO)
            report["workers_started"] = pool.started
        finally:
            pool.close()
    report["seconds"] = round(time.time() - started, 1)
    report["must_be_zero_seen"] = bad
    for item in report.get("formats", {}).get("findings", [])[:20]:
        log(f"FINDING {json.dumps(item)[:600]}")
    log(f"campaign finished in {report['seconds']} s; outcomes that must not happen: {bad}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
