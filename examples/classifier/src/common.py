"""Small helpers shared by the stages: CSV in and out, with the label as the last column."""
import csv
import os


def read_rows(path):
    """Returns (header, rows) with every value of a row as a float."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, [[float(v) for v in row] for row in reader]


def write_rows(path, header, rows, fmt="{:.6f}"):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(header)
        for row in rows:
            out.writerow([fmt.format(v) if isinstance(v, float) else v for v in row])
