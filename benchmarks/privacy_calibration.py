"""Privacy gates on clean real samples: false alarms of exact_copies, distance_to_closest_record and
membership_inference at a small synthetic size, on census columns no test uses (many-level categories, natural
duplicates: the hardest case measured for these nulls).

Each seed splits 20,000 census rows into 6,000 training and 2,000 holdout rows; the first `--rows` of the rest
pose as the synthetic table (clean: real rows neither part holds). Prints each seed's values against their
bounds and the false alarms per gate at the policy's default rate (1%).

    REVIEW_DESK_CACHE=/work/wt/cache python benchmarks/privacy_calibration.py [--rows 300] [--seeds 30] [--start 0]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.checks.privacy import evaluate_privacy, privacy_gate_values  # noqa: E402
from core.data.io import prepare_inputs, table_from_frame  # noqa: E402
from core.demo import census_income  # noqa: E402

COLUMNS = ["detailed_industry_recode", "detailed_occupation_recode", "state_of_previous_residence",
           "country_of_birth_father", "country_of_birth_mother", "detailed_household_and_family_stat",
           "major_industry_code", "education", "age", "capital_losses"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300, help="rows of the clean sample posing as synthetic")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--start", type=int, default=0, help="first seed")
    args = parser.parse_args()
    census = census_income()[COLUMNS].sample(20_000, random_state=7).reset_index(drop=True)
    for column in COLUMNS[:2]:  # industry and occupation recodes are category codes, not numbers
        census[column] = "code " + census[column].astype(str)
    fails: dict[str, int] = {}
    for seed in range(args.start, args.start + args.seeds):
        order = np.random.default_rng(seed).permutation(len(census))
        parts = (order[:6000], order[6000:8000], order[8000:8000 + args.rows])
        train, holdout, fresh = (census.iloc[p].reset_index(drop=True) for p in parts)
        inputs = prepare_inputs(*(table_from_frame(f, name) for f, name in
                                  ((train, "train.csv"), (fresh, "synthetic.csv"), (holdout, "holdout.csv"))))
        frames = inputs.frames
        result = evaluate_privacy(frames["real"], frames["synthetic"], frames["holdout"], inputs.metadata, seed=0,
                                  n_attacks=50, inference_secrets=[])
        line = []
        for name, gate in privacy_gate_values(result, alpha=0.01).items():
            fails[name] = fails.get(name, 0) + (not gate["passed"])
            line.append(f"{name} {gate['value']:.4f} (bound {gate['threshold']:.4f}){'' if gate['passed'] else ' FAIL'}")
        print(seed, "; ".join(line), flush=True)
    print(f"{args.seeds} clean samples of {args.rows} rows: false alarms " +
          ", ".join(f"{name} {n}/{args.seeds}" for name, n in fails.items()))


if __name__ == "__main__":
    main()
