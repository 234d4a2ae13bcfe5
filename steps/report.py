"""Stage report: reports/index.html and reports/README.md (and results.md, their tables alone) from every variant's scores, the yardsticks and the figures."""

import argparse

from doggan.cli import run
from doggan.report.build import render


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml", help="the params shown in the report")
    parser.add_argument("--reports", default="reports", help="folder the other stages wrote into")
    args = parser.parse_args()
    table = render(args.reports, args.params)
    print(table.to_string(index=False))


if __name__ == "__main__":
    run(main)
