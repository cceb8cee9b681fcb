"""The web app: ``python app.py [--host 127.0.0.1] [--port 7860] [--backend NAME] [--model-path GGUF]``.

Builds the store on first run (progress bar in the terminal), prints the URL
and who answers, warns when it listens beyond this machine without a login,
then serves the Gradio chat (assistant/ui/).
"""

from __future__ import annotations

import argparse
import sys

from assistant.answer import build_assistant
from assistant.config import load_settings
from assistant.embeddings import EmbeddingError
from assistant.indexing import IngestError, ensure_store
from assistant.llm import backend_label
from assistant.store import StoreError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Bilingual (Arabic/English) chat over the decentralized-AI corpus.")
    parser.add_argument("--host", help="address to bind (APP_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (APP_PORT, default 7860)")
    parser.add_argument("--share", action="store_true", help="create a public Gradio share link (off by default)")
    parser.add_argument("--allow-reingest", action="store_true", help="show a re-ingest button in the UI")
    parser.add_argument("--backend", choices=["extractive", "openai", "llamacpp"], help="who answers (LLM_BACKEND)")
    parser.add_argument("--model-path", help="GGUF file (or smollm2 / gemma3-270m) for llamacpp (LLM_MODEL_PATH); "
                                             "implies --backend llamacpp when no backend is set")
    parser.add_argument("--store", dest="store_dir", help="Chroma folder (STORE_DIR)")
    parser.add_argument("--corpus", dest="corpus_dir", help="corpus folder (CORPUS_DIR)")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace):
    settings = load_settings(app_host=args.host, app_port=args.port, llm_backend=args.backend,
                             llm_model_path=args.model_path, store_dir=args.store_dir, corpus_dir=args.corpus_dir)
    if args.model_path and settings.llm_backend is None:  # a bigger GGUF is one flag
        settings = settings.model_copy(update={"llm_backend": "llamacpp"})
    return settings


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = settings_from(args)
    try:
        ensure_store(settings)
        assistant = build_assistant(settings)
    except (IngestError, StoreError, EmbeddingError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    assistant.warm_up()
    # Imported here, not at the top: gradio takes about 2 s to import, and the warm-up
    # (keyword index, calibration, embedder) runs meanwhile instead of after it.
    from assistant.ui import exposure_warning, launch

    warning = exposure_warning(settings)
    if warning:
        print(warning, file=sys.stderr)
    print(f"Answers: {backend_label(settings)}")
    host = f"[{settings.app_host}]" if ":" in settings.app_host else settings.app_host
    print(f"Open http://{host}:{settings.app_port}/  (Ctrl+C to stop)", flush=True)
    try:
        launch(settings, assistant, share=args.share, allow_reingest=args.allow_reingest)
    except OSError as exc:  # e.g. the port is taken
        print(f"error: cannot serve on {settings.app_host}:{settings.app_port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
