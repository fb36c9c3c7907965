"""`python -m bench.knowledge [--pages N] [--chunks N] [--embed SPEC]`: one JSON line with Recall@3 for
BM25 and hybrid ranking, the relevance threshold's behaviour, indexing pages/s and retrieval p50/p95 at
10,000 passages (see hark.benchmark.knowledge)."""

import argparse
import json
import sys

from hark.benchmark import knowledge


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.knowledge")
    parser.add_argument("--pages", type=int, default=120, help="pages in the quality corpus (120)")
    parser.add_argument("--chunks", type=int, default=10_000, help="passages in the latency index (10000)")
    parser.add_argument("--embed", default="auto", help="auto|none|minilm|ollama:MODEL (auto)")
    args = parser.parse_args()
    result = knowledge.run(
        args.pages, args.chunks, args.embed, info=lambda line: print(line, file=sys.stderr)
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
