"""The web app: ``python app.py [--host 127.0.0.1] [--port 7860] [--backend NAME] [--model-path GGUF]``.

Builds the store on first run (progress bar in the terminal), prints the URL
and who answers, then serves the Gradio chat.
"""

import argparse
import sys

from assistant.chain import build_assistant
from assistant.config import load_settings
from assistant.indexing import IngestError, ensure_store
from assistant.llm import backend_label
from assistant.store import StoreError
from assistant.ui import launch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Bilingual chat over the decentralized-AI corpus.")
    parser.add_argument("--host", help="address to bind (APP_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (APP_PORT, default 7860)")
    parser.add_argument("--share", action="store_true", help="create a public Gradio share link (off by default)")
    parser.add_argument("--allow-reingest", action="store_true", help="show a re-ingest button in the UI")
    parser.add_argument("--backend", choices=["extractive", "openai", "llamacpp"], help="who answers (LLM_BACKEND)")
    parser.add_argument("--model-path", help="GGUF file for --backend llamacpp (LLM_MODEL_PATH)")
    parser.add_argument("--store", dest="store_dir", help="Chroma folder (STORE_DIR)")
    parser.add_argument("--corpus", dest="corpus_dir", help="corpus folder (CORPUS_DIR)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    settings = load_settings(app_host=args.host, app_port=args.port, llm_backend=args.backend,
                             llm_model_path=args.model_path, store_dir=args.store_dir, corpus_dir=args.corpus_dir)
    try:
        ensure_store(settings)
        assistant = build_assistant(settings)
    except (IngestError, StoreError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if settings.app_host not in ("127.0.0.1", "localhost", "::1") and not (settings.app_username and settings.app_password):
        print(f"warning: binding to {settings.app_host} without a login; set APP_USERNAME and APP_PASSWORD", file=sys.stderr)
    print(f"Answers: {backend_label(settings)}")
    print(f"Open http://{settings.app_host}:{settings.app_port}/  (Ctrl+C to stop)", flush=True)
    launch(settings, assistant, share=args.share, allow_reingest=args.allow_reingest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
