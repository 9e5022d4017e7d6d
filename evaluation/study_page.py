"""Sections that apps above evaluation add to the researchers' study page.

evaluation imports none of the apps above it; the analysis app registers its comparison table and
plots here from its AppConfig.ready, and the study page renders whatever is registered.
"""
from __future__ import annotations

from typing import Callable

# (heading, render(study) -> HTML fragment that escapes its own text), in registration order.
_sections: list[tuple[str, Callable]] = []


def register_study_page_section(heading: str, render: Callable) -> None:
    if any(existing == heading for existing, _ in _sections):
        raise ValueError(f"a study page section {heading!r} is registered already")
    _sections.append((heading, render))


def study_page_sections(study) -> list[tuple[str, str]]:
    """(heading, HTML) of every registered section for `study`."""
    return [(heading, render(study)) for heading, render in _sections]
