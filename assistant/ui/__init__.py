"""The web UI: ``render`` builds each message's HTML (pure, testable), ``app`` wires Gradio."""

from assistant.ui.app import api_response, api_stream, build_ui, chat_turn, exposure_warning, launch, parse_history, reingest
from assistant.ui.render import highlight, inline, render_response, render_text, render_user

__all__ = [
    "api_response", "api_stream", "build_ui", "chat_turn", "exposure_warning", "launch", "parse_history", "reingest",
    "highlight", "inline", "render_response", "render_text", "render_user",
]
