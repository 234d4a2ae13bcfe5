"""`doggan COMMAND ...`: the project's commands for people (the pipeline's stages are steps/*.py).

    doggan serve [--host 127.0.0.1] [--port 8000]    a web page and an HTTP API over models/
"""

import argparse
import importlib

# command -> (module with main(argv), what it does); a module is imported only when its command runs
COMMANDS = {"serve": ("doggan.serve.app", "a web page and an HTTP API over the trained generators")}


def dispatch(argv=None):
    parser = argparse.ArgumentParser(prog="doggan", epilog="`doggan COMMAND --help` lists a command's options.")
    parser.add_argument("command", choices=COMMANDS, help="; ".join(f"{name}: {text}" for name, (_, text) in COMMANDS.items()))
    parser.add_argument("options", nargs=argparse.REMAINDER, help="the command's own options")
    args = parser.parse_args(argv)
    importlib.import_module(COMMANDS[args.command][0]).main(args.options)


def main():
    """The `doggan` console script."""
    from doggan.cli import run

    run(dispatch)


if __name__ == "__main__":
    main()
