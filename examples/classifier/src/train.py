"""Stage `train`: logistic regression fitted by full-batch gradient descent with L2 regularisation.

Usage: train.py FEATURES_DIR MODEL.json LOG.csv --lr LR --epochs N --l2 LAMBDA
Writes the model (weights and bias) as JSON, and the training loss per epoch as a CSV (a plot).
"""
import argparse
import json
import math
import os

from common import read_rows, write_rows


def sigmoid(z):
    # Split on the sign so that exp never overflows.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def log_loss(weights, bias, rows):
    total = 0.0
    for row in rows:
        p = sigmoid(bias + sum(w * x for w, x in zip(weights, row)))
        p = min(max(p, 1e-12), 1 - 1e-12)
        total -= math.log(p) if row[-1] == 1 else math.log(1 - p)
    return total / len(rows)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("features_dir")
    parser.add_argument("model")
    parser.add_argument("log")
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--l2", type=float, required=True)
    args = parser.parse_args()

    header, rows = read_rows(os.path.join(args.features_dir, "train.csv"))
    n = len(header) - 1
    weights, bias = [0.0] * n, 0.0
    log = []
    for epoch in range(1, args.epochs + 1):
        grad_w, grad_b = [0.0] * n, 0.0
        for row in rows:
            err = sigmoid(bias + sum(w * x for w, x in zip(weights, row))) - row[-1]
            for i in range(n):
                grad_w[i] += err * row[i]
            grad_b += err
        weights = [w - args.lr * (g / len(rows) + args.l2 * w) for w, g in zip(weights, grad_w)]
        bias -= args.lr * grad_b / len(rows)
        log.append([epoch, log_loss(weights, bias, rows)])

    with open(args.model, "w") as f:
        json.dump({"features": header[:-1], "weights": weights, "bias": bias}, f, indent=2)
        f.write("\n")
    write_rows(args.log, ["epoch", "loss"], log)
    print(f"train: {args.epochs} epochs, final training loss {log[-1][1]:.4f}")


if __name__ == "__main__":
    main()
