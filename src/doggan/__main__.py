"""`doggan COMMAND ...`: the project's commands for people (the pipeline's stages are steps/*.py).

    doggan serve [--host 127.0.0.1] [--port 8000]    a web page and an HTTP API over models/
"""

import importlib
import sys

from doggan.errors import UserError

# command -> (module with main(argv), its usage in one line, what it does); a module is imported
# only when its command runs (serve's pulls in FastAPI and torch: seconds, just to print a list)
COMMANDS = {"serve": ("doggan.serve.app", "doggan serve [--host 127.0.0.1] [--port 8000] [--models models] [--device auto]",
                      "a web page and an HTTP API over the trained generators")}


def usage():
    """The commands, one line each, and where the rest is."""
    width = max(len(line) for _, line, _ in COMMANDS.values())
    commands = "".join(f"\n  {line:<{width}}  {text}" for _, line, text in COMMANDS.values())
    return (f"usage: doggan COMMAND [OPTIONS]; `doggan COMMAND --help` lists a command's options{commands}\n"
            "also: python -m doggan.generate --help (sample dogs), python -m doggan.score --help (score a submission)")


def dispatch(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # a command is missing: argparse's convention, the usage on stderr and exit 2
        print(usage(), file=sys.stderr)
        sys.exit(2)
    command, *options = argv
    if command in ("-h", "--help"):
        print(usage())
        return
    if command not in COMMANDS:
        raise UserError(f"{command!r} is not a command (commands: {', '.join(COMMANDS)}; `doggan --help` says what they do)")
    importlib.import_module(COMMANDS[command][0]).main(options)


def main():
    """The `doggan` console script."""
    from doggan.cli import run

    run(dispatch)


if __name__ == "__main__":
    main()
