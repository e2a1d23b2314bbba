"""Stage `evaluate`: scores the model on the test set.

Usage: evaluate.py MODEL.json FEATURES_DIR OUT_DIR --threshold T
Writes OUT_DIR/metrics.json (accuracy, precision, recall, f1, roc_auc, log_loss) and OUT_DIR/roc.csv (one row per
threshold: false and true positive rates), the input of a ROC plot.
"""
import argparse
import json
import os

from common import read_rows, write_rows
from train import log_loss, sigmoid


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("features_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--threshold", type=float, required=True)
    args = parser.parse_args()

    with open(args.model) as f:
        model = json.load(f)
    _, rows = read_rows(os.path.join(args.features_dir, "test.csv"))
    scores = [sigmoid(model["bias"] + sum(w * x for w, x in zip(model["weights"], r))) for r in rows]
    labels = [int(r[-1]) for r in rows]

    tp = sum(1 for s, y in zip(scores, labels) if s >= args.threshold and y == 1)
    fp = sum(1 for s, y in zip(scores, labels) if s >= args.threshold and y == 0)
    fn = sum(1 for s, y in zip(scores, labels) if s < args.threshold and y == 1)
    tn = len(rows) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0

    # ROC: sweep the threshold down through every distinct score.
    positives, negatives = sum(labels), len(labels) - sum(labels)
    roc, auc, prev_fpr, prev_tpr = [[0.0, 0.0]], 0.0, 0.0, 0.0
    tps = fps = 0
    ranked = sorted(zip(scores, labels), key=lambda p: -p[0])
    for i, (score, label) in enumerate(ranked):
        tps += label
        fps += 1 - label
        if i + 1 < len(ranked) and ranked[i + 1][0] == score:
            continue
        fpr, tpr = fps / negatives, tps / positives
        auc += (fpr - prev_fpr) * (tpr + prev_tpr) / 2
        roc.append([fpr, tpr])
        prev_fpr, prev_tpr = fpr, tpr

    metrics = {
        "accuracy": round((tp + tn) / len(rows), 4),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
        "roc_auc": round(auc, 4),
        "log_loss": round(log_loss(model["weights"], model["bias"], rows), 4),
    }
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    write_rows(os.path.join(args.out_dir, "roc.csv"), ["fpr", "tpr"], roc, fmt="{:.4f}")
    print(f"evaluate: accuracy {metrics['accuracy']}, roc_auc {metrics['roc_auc']}")


if __name__ == "__main__":
    main()
