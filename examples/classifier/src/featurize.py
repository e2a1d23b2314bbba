"""Stage `featurize`: scales the features with statistics of the training set only (no test-set leakage).

Usage: featurize.py PREPARED_DIR OUT_DIR --scaling standard|minmax|none
"""
import argparse
import os

from common import read_rows, write_rows


def scaler(columns, scaling):
    """Returns one (shift, scale) pair per feature column."""
    pairs = []
    for col in columns:
        if scaling == "standard":
            mean = sum(col) / len(col)
            std = (sum((v - mean) ** 2 for v in col) / len(col)) ** 0.5
            pairs.append((mean, std or 1.0))
        elif scaling == "minmax":
            lo, hi = min(col), max(col)
            pairs.append((lo, (hi - lo) or 1.0))
        else:
            pairs.append((0.0, 1.0))
    return pairs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("prepared_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--scaling", choices=["standard", "minmax", "none"], required=True)
    args = parser.parse_args()

    header, train = read_rows(os.path.join(args.prepared_dir, "train.csv"))
    _, test = read_rows(os.path.join(args.prepared_dir, "test.csv"))
    n_features = len(header) - 1
    pairs = scaler([[row[i] for row in train] for i in range(n_features)], args.scaling)

    def transform(row):
        return [(row[i] - shift) / scale for i, (shift, scale) in enumerate(pairs)] + [int(row[-1])]

    write_rows(os.path.join(args.out_dir, "train.csv"), header, [transform(r) for r in train])
    write_rows(os.path.join(args.out_dir, "test.csv"), header, [transform(r) for r in test])
    print(f"featurize: {n_features} features, scaling={args.scaling}")


if __name__ == "__main__":
    main()
