"""Stage `prepare`: shuffles the raw data set and splits it into a training and a test set.

Usage: prepare.py RAW.csv OUT_DIR --test-ratio R --seed S
Drops the `id` column; keeps the features and the label.
"""
import argparse
import csv
import os
import random


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("raw")
    parser.add_argument("out_dir")
    parser.add_argument("--test-ratio", type=float, required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()

    with open(args.raw, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)[1:]
        rows = [row[1:] for row in reader]
    random.Random(args.seed).shuffle(rows)
    n_test = round(len(rows) * args.test_ratio)

    os.makedirs(args.out_dir, exist_ok=True)
    for name, part in (("test.csv", rows[:n_test]), ("train.csv", rows[n_test:])):
        with open(os.path.join(args.out_dir, name), "w", newline="") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow(header)
            out.writerows(part)
    print(f"prepare: {len(rows) - n_test} training rows, {n_test} test rows")


if __name__ == "__main__":
    main()
