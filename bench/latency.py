"""`python -m bench.latency [--turns N]`: one JSON line, as `hark bench latency --json`."""

import sys

from hark.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "latency", "--json", *sys.argv[1:]]))
