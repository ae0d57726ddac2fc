"""Serving: a local causal LM behind an OpenAI-compatible chat API.

Import the submodules (`headstart.serving.chat_model`, `headstart.serving.openai_server`,
`headstart.serving.background`); this package imports nothing heavy on its own.
"""

from __future__ import annotations

__all__: list[str] = []
