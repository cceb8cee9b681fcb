"""Build or refresh the passage store from corpus/: ``python ingest.py [--rebuild] [--json]``."""

import sys

from assistant.cli import cmd_ingest, ingest_parser
from assistant.embeddings import EmbeddingError
from assistant.indexing import IngestError
from assistant.store import StoreError

if __name__ == "__main__":
    args = ingest_parser().parse_args()
    try:
        sys.exit(cmd_ingest(args))
    except (IngestError, StoreError, EmbeddingError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
