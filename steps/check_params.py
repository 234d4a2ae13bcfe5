"""Stage check_params: every value of params.yaml, checked before any other stage can remove its outputs."""

# DVC removes a stage's outputs before it runs the stage's command, so a bad value that only the
# stage itself caught would cost the outputs of the last good run. Every stage depends on this
# one's output, which is the same whatever the params: a bad value stops the pipeline here, first,
# naming its key, and a good edit reruns only the stages whose own params changed.

import argparse

from doggan.cli import run
from doggan.config import read_params
from doggan.validate import check_params
from doggan.io import write_json


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", required=True, help="written when every value is valid; its bytes never change")
    args = parser.parse_args()
    check_params(read_params(args.params))
    write_json(args.out, {"params": "valid"})


if __name__ == "__main__":
    run(main)
