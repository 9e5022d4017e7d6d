"""Sections of the study page that need only the study: shorthand over evaluation.panels (the one registry)."""
from __future__ import annotations

from typing import Callable

from .panels import register_panel, render_panels


def register_study_page_section(heading: str, render: Callable) -> None:
    """Add a section to the study page; `render(study)` returns HTML that escapes its own text."""
    register_panel("study", heading, heading, lambda request, study: render(study))


def study_page_sections(study) -> list[tuple[str, str]]:
    """(heading, HTML) of every registered study page section for `study`."""
    return [(panel["title"], panel["html"]) for panel in render_panels("study", None, study)]
