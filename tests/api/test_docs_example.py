"""The Python example of docs/api.md runs as written against the demo (`manage.py demo --no-serve` builds it: synthetic
probing set, demo CNN trained on it, an explain job, the researcher account) on a live server, with a token from
`manage.py api_token`: it imports two methods' explanations for the demo CNN's explained layers, creates a study,
invites two raters (who then rate through the real rating pages), and downloads the comparison table, which is
the one `comparison_table` prints."""
import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from explain.models import Layer
from tests.evaluation.helpers import answer, read_task

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "api_example.py"

pytestmark = pytest.mark.slow


def test_the_docs_show_the_example_file_as_it_is():
    assert f"```python\n{EXAMPLE.read_text()}```" in (ROOT / "docs" / "api.md").read_text()


def write_explanations(folder: Path, method: str, words: list[str], layers: dict[str, int]) -> Path:
    """A plain-format file describing every unit of `layers` ({name: unit count})."""
    path = folder / f"{method}.csv"
    rows = [f"{layer},{unit},{words[unit % len(words)]} seen by {method}" for layer, units in layers.items()
            for unit in range(units)]
    path.write_text("layer,unit,description\n" + "\n".join(rows) + "\n")
    return path


def rate_everything(link: str, values) -> int:
    """Rate every task a rater link hands out, through the rating pages, as a browser would."""
    answered = 0
    with httpx.Client(follow_redirects=True, timeout=60) as browser:
        page = browser.get(link + "task/")
        while 'name="task"' in page.text:
            task = read_task(page.text)
            form = answer(task, values=values[: len(task["slots"])], best_index=0)
            page = browser.post(link + "task/", data=form, headers={"Referer": link})
            assert page.status_code == 200, page.text[:500]
            answered += 1
    return answered


def build_the_demo(settings, tmp_path) -> dict[str, int]:
    """The demo as `manage.py demo --no-serve` builds it; its explained layers with their unit counts."""
    settings.VAR_DIR = tmp_path / "var"  # where the demo keeps its trained weights and the researcher password
    call_command("demo", "--no-serve", stdout=StringIO())
    demo_layers = Layer.objects.filter(network__name="demo-cnn", neurons__top_images__isnull=False).distinct()
    return {layer.name: layer.unit_count for layer in demo_layers.order_by("order")}


def test_api_example_runs_as_written_against_the_demo(live_server, transactional_db, settings, tmp_path):
    settings.SITE_URL = live_server.url
    layers = build_the_demo(settings, tmp_path)
    assert len(layers) == 2
    made = StringIO()
    call_command("api_token", "create", "researcher", "--name", "docs example", stdout=made, stderr=StringIO())
    token = made.getvalue().strip()
    files = [write_explanations(tmp_path, "alpha", ["red circle", "blue square"], layers),
             write_explanations(tmp_path, "beta", ["texture", "stripes", "grass"], layers)]

    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "demo-cnn", "docs-demo", *[f"{p.stem}={p.name}" for p in files]],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PATH": "/usr/bin:/bin", "NEURONEVAL_URL": live_server.url, "NEURONEVAL_TOKEN": token,
             "NEURONEVAL_WAIT_SECONDS": "180"},
    )
    try:
        printed, links = [], []
        while len(links) < 2:
            line = process.stdout.readline()
            assert line, f"the example stopped early: {''.join(printed)} {process.stderr.read()}"
            printed.append(line)
            if line.startswith("rater link: "):
                links.append(line.removeprefix("rater link: ").strip())
        # Two raters, two neurons a layer, two raters a neuron: every neuron reaches its target.
        assert rate_everything(links[0], [5, 2]) + rate_everything(links[1], [4, 3]) == 8
        out, err = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            process.kill()
    printed.append(out)
    assert process.returncode == 0, err
    text = "".join(printed)
    assert f"imported {sum(layers.values())} explanations by alpha: {layers}" in text
    assert "study docs-demo: 4 neurons, status open" in text
    assert "8 of 8 responses" in text

    downloaded = json.loads((tmp_path / "docs-demo-comparison.json").read_text())
    command = StringIO()
    call_command("comparison_table", "--study", "docs-demo", "--format", "json", "--by", "layer", stdout=command)
    assert downloaded == json.loads(command.getvalue())
    assert {row["method"] for row in downloaded} == {"alpha", "beta"}
    ratings = (tmp_path / "docs-demo-ratings.csv").read_text().splitlines()
    assert ratings[0].startswith("response_id,rater,network,layer,unit,method,rating,best")
    assert len(ratings) == 1 + 8 * 2
