"""Sections that apps above evaluation add to the researcher pages, so evaluation never imports them.

An app registers a panel for a page ("study", "rater", "neuron") in its AppConfig.ready();
the page renders every registered panel in order. A panel's render function gets the
request and the page's subject (a Study, a Rater or a StudyNeuron) and returns safe HTML,
or "" to show nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

PAGES = ("study", "rater", "neuron")


@dataclass(frozen=True)
class Panel:
    page: str
    name: str
    title: str
    render: Callable
    order: int = 100


_panels: dict[str, dict[str, Panel]] = {page: {} for page in PAGES}


def register_panel(page: str, name: str, title: str, render: Callable, order: int = 100) -> Panel:
    """Add a panel to one of the researcher pages; a name is registered once per page."""
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}; panels go on {', '.join(PAGES)}")
    if name in _panels[page]:
        raise ValueError(f"a {page} page panel {name!r} is registered already")
    panel = Panel(page, name, title, render, order)
    _panels[page][name] = panel
    return panel


def unregister_panel(page: str, name: str) -> None:
    _panels[page].pop(name, None)


def render_panels(page: str, request, subject) -> list[dict]:
    """[{"name", "title", "html"}] of the page's panels in order, leaving out the empty ones."""
    rendered = []
    for panel in sorted(_panels[page].values(), key=lambda p: (p.order, p.name)):
        html = panel.render(request, subject)
        if html:
            rendered.append({"name": panel.name, "title": panel.title, "html": html})
    return rendered
