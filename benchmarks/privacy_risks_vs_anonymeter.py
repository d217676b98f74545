"""Singling-out, linkability and attribute-inference risk: ours against anonymeter 1.1.0 on the same data.

anonymeter pins numpy<1.27 and pyarrow<22, so it never enters the product's environment: it runs in a
separate virtual environment given by --anonymeter-python, fed the same CSV files.

    python3 -m venv /tmp/anonvenv && /tmp/anonvenv/bin/pip install anonymeter==1.1.0
    .venv/bin/python benchmarks/privacy_risks_vs_anonymeter.py --anonymeter-python /tmp/anonvenv/bin/python

Two cases on census rows: a fresh real sample posing as synthetic (no leak: risks near 0) and the training
rows themselves posing as synthetic (total leak: risks high). Both tools attack the same training rows,
with the same holdout as control, the same linkability column split and the same secret column.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.demo import DEMO_COLUMNS, census_income  # noqa: E402
from core.data.metadata import coerce_to_metadata, detect_metadata  # noqa: E402
from core.checks.privacy import evaluate_privacy  # noqa: E402

ANONYMETER_SCRIPT = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import pandas as pd
from anonymeter.evaluators import SinglingOutEvaluator, LinkabilityEvaluator, InferenceEvaluator
folder, secret, n_attacks = sys.argv[1], sys.argv[2], int(sys.argv[3])
cols_a, cols_b = json.loads(sys.argv[4]), json.loads(sys.argv[5])
ori, syn, control = (pd.read_csv(f"{folder}/{n}.csv") for n in ("train", "synthetic", "holdout"))
out = {}
def risk(evaluator):
    r = evaluator.risk(confidence_level=0.95)
    return {"risk": r.value, "ci": list(r.ci)}
start = time.perf_counter()
so = SinglingOutEvaluator(ori=ori, syn=syn, control=control, n_attacks=n_attacks, n_cols=3)
so.evaluate(mode="multivariate")
out["singling_out"] = risk(so)
link = LinkabilityEvaluator(ori=ori, syn=syn, control=control, n_attacks=n_attacks, aux_cols=(cols_a, cols_b), n_neighbors=1)
link.evaluate(n_jobs=1)
out["linkability"] = risk(link)
inf = InferenceEvaluator(ori=ori, syn=syn, control=control, aux_cols=[c for c in ori.columns if c != secret],
                         secret=secret, n_attacks=n_attacks)
inf.evaluate(n_jobs=1)
out["attribute_inference"] = risk(inf)
out["seconds"] = time.perf_counter() - start
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--anonymeter-python", required=True)
    parser.add_argument("--rows", type=int, default=2000, help="rows in each of train, holdout and synthetic")
    parser.add_argument("--attacks", type=int, default=500)
    parser.add_argument("--secret", default="income_gt_50k")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    census = census_income()[DEMO_COLUMNS].sample(3 * args.rows, random_state=0).reset_index(drop=True)
    train, holdout, fresh = (census.iloc[i * args.rows:(i + 1) * args.rows].reset_index(drop=True) for i in range(3))
    metadata = detect_metadata(train)
    print(f"{args.rows} rows each of train / holdout / synthetic, {len(DEMO_COLUMNS)} census columns, "
          f"{args.attacks} attacks; risk (95% CI)")
    print(f"{'case':<24}{'attack':<22}{'ours':<26}{'anonymeter':<26}")
    for case, synthetic in (("fresh real (no leak)", fresh), ("training rows (leak)", train)):
        frames = [coerce_to_metadata(t, metadata, n) for t, n in ((train, "t"), (synthetic, "s"), (holdout, "h"))]
        start = time.perf_counter()
        ours = evaluate_privacy(*frames, metadata, seed=0, n_attacks=args.attacks, inference_secrets=[args.secret])
        ours_seconds = time.perf_counter() - start
        split = ours.to_dict()["linkability"]
        with tempfile.TemporaryDirectory() as folder:
            for name, table in (("train", train), ("synthetic", synthetic), ("holdout", holdout)):
                table.to_csv(f"{folder}/{name}.csv", index=False)
            done = subprocess.run([args.anonymeter_python, "-c", ANONYMETER_SCRIPT, folder, args.secret,
                                   str(args.attacks), json.dumps(split["columns_a"]), json.dumps(split["columns_b"])],
                                  capture_output=True, text=True, check=True)
        theirs = json.loads(done.stdout.strip().splitlines()[-1])
        results = {"singling_out": ours.singling_out, "linkability": ours.linkability,
                   "attribute_inference": ours.attribute_inference[args.secret]}
        for attack, risk in results.items():
            other = theirs[attack]
            print(f"{case:<24}{attack:<22}{risk.risk:.3f} ({risk.ci_low:.3f}-{risk.ci_high:.3f}){'':<6}"
                  f"{other['risk']:.3f} ({other['ci'][0]:.3f}-{other['ci'][1]:.3f})")
        print(f"{'':<24}{'time (all checks)':<22}{ours_seconds:.1f} s{'':<20}{theirs['seconds']:.1f} s (three attacks only)")


if __name__ == "__main__":
    main()
