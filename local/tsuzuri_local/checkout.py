"""Where the local tools find the checkout they were installed from (``make install``
installs this package in editable mode): the SAM template, the handlers and the theme."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
RENDER_HANDLER = ROOT / "functions" / "render" / "app.py"
RELATED_HANDLER = ROOT / "functions" / "related" / "app.py"
THEME = ROOT / "templates"
