"""Zero-shot classification. Import the modules (e.g. `headstart.zeroshot.api`); nothing heavy is loaded here."""

from __future__ import annotations
