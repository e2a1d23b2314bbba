"""Generates data/samples.csv, the example's bundled data set (run once; the CSV is committed).

A synthetic stand-in for a small tabular classification problem: two classes of sensor readings, four numeric
features whose class means overlap, so that a linear model gets most but not all rows right. Seeded, so the
file is the same on every machine.
"""
import csv
import random
import sys

ROWS = 600
FEATURES = ["temperature", "vibration", "pressure", "humidity"]
# Class 0 (healthy) and class 1 (faulty): per-feature mean and standard deviation.
MEANS = {0: [60.0, 0.30, 101.0, 40.0], 1: [68.0, 0.55, 99.5, 45.0]}
SPREAD = [6.0, 0.15, 1.5, 8.0]


def main(path):
    rng = random.Random(20261122)
    with open(path, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["id", *FEATURES, "label"])
        for i in range(ROWS):
            label = 1 if rng.random() < 0.4 else 0
            values = [rng.gauss(m, s) for m, s in zip(MEANS[label], SPREAD)]
            out.writerow([i, *(f"{v:.3f}" for v in values), label])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/samples.csv")
