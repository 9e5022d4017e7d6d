"""Load: simulated raters work through the real rating pages of a study served by gunicorn on 127.0.0.1.

    python benchmarks/load.py                          # both scenarios on SQLite, then on PostgreSQL
    python benchmarks/load.py --rounds 2               # SQLite, PostgreSQL, SQLite, PostgreSQL
    python benchmarks/load.py --database sqlite --raters 100 --think 5 --duration 30
    python benchmarks/load.py --quick --database sqlite  # smoke run: a few raters, seconds

Per database (SQLite: a file in a temporary folder; PostgreSQL: a throwaway cluster started as .ci/run starts
one, or the server of DATABASE_URL, in a fresh database either way) it migrates, builds an explained network
with the test builders, and serves the site with gunicorn as docker-compose.yml's web service runs it (its
worker class, workers, threads and timeouts, DEBUG off). For each scenario it creates a study (create_study,
invite_raters; by default the reference study's size, 800 neurons and 3 raters a neuron) and lets every rater
open their link, GET the task page, read the form as a browser would (CSRF token, hidden fields, radio groups),
think, POST a consistent answer, follow the redirect to the next task, and so on until the thank-you page, the
scenario's duration or the study's capacity (neurons x raters per neuron) ends it. Afterwards it prints:
offered and achieved answers/s, p50/p95/p99 of the task page (GET) and of the answer (POST), status counts,
the invariants read from the database (at most K responses a neuron, no duplicate (rater, neuron), no orphan
rows, no reservation held by a rater who was told they were done) and the load average.

Default scenarios and the targets of issue 11 (2-core machine, quiet): 200 raters thinking 10 s (20 answers/s
offered; p95 below 300 ms) and 50 raters with no think time (no 5xx). Exit status 1 when an invariant fails.
"""
from __future__ import annotations

import argparse
import asyncio
import glob
import math
import multiprocessing
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REQUEST_TIMEOUT_SECONDS = 60
SERVER_START_SECONDS = 90
P95_TARGET_MS = 300
# A rater told "all remaining tasks are being worked on" looks again after this long (or the think time).
COME_BACK_SECONDS = 1.0


@dataclass(frozen=True)
class Scenario:
    name: str
    raters: int
    think: float  # mean seconds a rater spends on a task page before answering (0: answers at once)
    duration: float  # seconds of traffic at most
    neurons: int
    raters_per_neuron: int

    @property
    def offered(self) -> str:
        if self.think <= 0:
            return "closed loop (each rater answers as soon as the page arrives)"
        return f"{self.raters / self.think:.1f} answers/s ({self.raters} raters / {self.think:g} s think time)"


def scenarios_from(options) -> list[Scenario]:
    if options.quick:
        # Small enough that every rater reaches the thank-you page well within the duration.
        return [
            Scenario("think", raters=4, think=0.2, duration=15, neurons=6, raters_per_neuron=2),
            Scenario("no-think", raters=3, think=0, duration=15, neurons=6, raters_per_neuron=2),
        ]
    if options.raters or options.think is not None:
        return [Scenario("custom", options.raters or 50, options.think or 0.0, options.duration, options.neurons, options.k)]
    return [
        Scenario("200 raters, 10 s think", 200, 10.0, options.duration, options.neurons, options.k),
        Scenario("50 raters, no think", 50, 0.0, options.duration, options.neurons, options.k),
    ]


# --------------------------------------------------------------------------- the server


def deployed_gunicorn_arguments() -> list[str]:
    """gunicorn's options as docker-compose.yml's web service passes them (${VAR:-default} resolved from the
    environment), less the bind address and the access log."""
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    command = services["web"]["command"][-1]
    options = command.split("gunicorn config.wsgi:application", 1)[1].split()
    resolved = [
        re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: os.environ.get(m.group(1)) or m.group(2), token) for token in options
    ]
    kept, skip = [], False
    for token in resolved:
        if skip:
            skip = False
        elif token in ("--bind", "--access-logfile"):
            skip = True
        else:
            kept.append(token)
    return kept


async def warm_up(url: str, requests: int = 24):
    """Concurrent requests so every worker has loaded Django's URLs and middleware before anything is timed."""
    import httpx

    async with httpx.AsyncClient(trust_env=False, timeout=REQUEST_TIMEOUT_SECONDS) as client:
        await asyncio.gather(*(client.get(url) for _ in range(requests)))


@contextmanager
def gunicorn(port: int, log_path: Path):
    """The site under gunicorn on 127.0.0.1:port, started with this process's environment; stopped on exit."""
    import httpx

    arguments = [*deployed_gunicorn_arguments(), "--bind", f"127.0.0.1:{port}"]
    print(f"  gunicorn {' '.join(arguments)} (log: {log_path})", flush=True)
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", *arguments],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {server.returncode}; see {log_path}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/accounts/login/", trust_env=False, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer within {SERVER_START_SECONDS} s; see {log_path}")
            time.sleep(0.3)
        asyncio.run(warm_up(f"http://127.0.0.1:{port}/accounts/login/"))
        yield server
    finally:
        server.send_signal(signal.SIGQUIT)  # quick shutdown: the raters are gone, nothing is in flight
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --------------------------------------------------------------------------- PostgreSQL


@contextmanager
def throwaway_postgres():
    """A private cluster as .ci/run starts one (own port and socket folder, trust auth, fsync on), removed on exit.
    Yields the server's URL."""
    from tests.processes import free_port

    bin_dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(Path(path).parent.name))
    if not bin_dirs:
        raise SystemExit("PostgreSQL is not installed (/usr/lib/postgresql/*/bin); give DATABASE_URL or --database sqlite")
    bin_dir = Path(bin_dirs[-1])
    folder = Path(tempfile.mkdtemp(prefix="neuroneval-load-pg-"))
    as_postgres = []
    if os.getuid() == 0:  # initdb refuses to run as root
        shutil.chown(folder, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = folder / "data"
    try:
        subprocess.run([*as_postgres, bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "postgres"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            [*as_postgres, bin_dir / "pg_ctl", "-D", data, "-l", folder / "log", "-w", "start",
             "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200"],
            check=True, stdout=subprocess.DEVNULL,
        )
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def fresh_postgres_database(server_url: str):
    """A new, empty database on the server of `server_url`, dropped on exit. Yields its URL."""
    import psycopg
    from psycopg import sql

    name = f"neuroneval_load_{secrets.token_hex(4)}"
    parts = urlsplit(server_url)
    maintenance = parts._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def postgres_server():
    given = os.environ.get("DATABASE_URL", "")
    if given.startswith(("postgres://", "postgresql://")):
        print(f"PostgreSQL: the server of DATABASE_URL ({urlsplit(given).hostname or 'socket'})", flush=True)
        yield given
        return
    with throwaway_postgres() as url:
        print(f"PostgreSQL: throwaway cluster at {url.rsplit('/', 1)[0]}", flush=True)
        yield url


# --------------------------------------------------------------------------- a rater, as a browser


class PageReader(HTMLParser):
    """What a browser takes from a page: its title, the rating form (action, hidden fields, radio groups)
    and the button links."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.action = None
        self.hidden: dict[str, str] = {}
        self.radios: dict[str, list[str]] = defaultdict(list)
        self.buttons: list[str] = []
        self._in_title = False
        self._in_form = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        classes = attrs.get("class", "").split()
        if tag == "title":
            self._in_title = True
        elif tag == "form" and "rating-form" in classes:
            self._in_form = True
            self.action = attrs.get("action", "")
        elif tag == "input" and self._in_form and attrs.get("name"):
            kind = attrs.get("type", "text").lower()
            if kind == "hidden":
                self.hidden[attrs["name"]] = attrs.get("value", "")
            elif kind == "radio":
                self.radios[attrs["name"]].append(attrs.get("value", ""))
        elif tag == "a" and "button" in classes and attrs.get("href"):
            self.buttons.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag == "form":
            self._in_form = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data

    @property
    def is_task(self) -> bool:
        return self.action is not None and any(name.startswith("rating-") for name in self.radios)


def consistent_answer(page: PageReader, rng: random.Random, visible_seconds: float) -> dict:
    """The form as a careful rater sends it: every description rated, the best pick among the top-rated ones
    (so a consistency prompt never fires), the hidden fields as served."""
    data = dict(page.hidden)
    data["visible_seconds"] = f"{visible_seconds:.1f}"  # what rating.js reports; the server clamps it
    ratings = {name: rng.choice(values) for name, values in page.radios.items() if name.startswith("rating-")}
    data.update(ratings)
    if "best" in page.radios:
        top = max(ratings.values())
        data["best"] = rng.choice([token for token in page.radios["best"] if ratings.get(f"rating-{token}") == top])
    return data


@dataclass
class Tally:
    """What the raters saw: latencies and status classes per kind of request, answers, who finished."""

    latencies: dict = field(default_factory=lambda: defaultdict(list))
    statuses: dict = field(default_factory=lambda: defaultdict(Counter))
    failures: Counter = field(default_factory=Counter)
    answers: int = 0
    answered_at: list = field(default_factory=list)  # monotonic clock of each accepted answer
    finished: set = field(default_factory=set)
    come_back_pages: int = 0
    unexpected_pages: Counter = field(default_factory=Counter)
    last_activity: float = 0.0
    server_cpu: float = 0.0  # CPU seconds gunicorn spent (master and workers)
    client_cpu: float = 0.0  # CPU seconds the simulated raters spent (this process)

    async def timed(self, kind: str, request):
        import httpx

        started = time.perf_counter()
        try:
            response = await request
        except httpx.HTTPError as error:
            self.failures[f"{kind}: {type(error).__name__}"] += 1
            return None
        self.latencies[kind].append(time.perf_counter() - started)
        self.statuses[kind][f"{response.status_code // 100}xx"] += 1
        self.last_activity = time.monotonic()
        return response


async def rate(link: str, scenario: Scenario, deadline: float, tally: Tally, rng: random.Random):
    """One rater: open the link, start, then answer task after task until told there is nothing left
    or the time is up."""
    import httpx

    origin = "{0.scheme}://{0.netloc}".format(urlsplit(link))
    async with httpx.AsyncClient(
        timeout=REQUEST_TIMEOUT_SECONDS, trust_env=False, follow_redirects=False, headers={"Origin": origin}
    ) as client:
        await asyncio.sleep(rng.uniform(0, scenario.think))  # raters arrive spread over one think time
        home = await tally.timed("rater home (GET)", client.get(link))
        if home is None or home.status_code != 200 or not PageReader(home.text).buttons:
            return
        task_url = urljoin(link, PageReader(home.text).buttons[0])
        response = await tally.timed("task page (GET)", client.get(task_url))
        while response is not None and time.monotonic() < deadline:
            page = PageReader(response.text)
            if not page.is_task:
                if page.title.strip() == "Thank you":
                    tally.finished.add(link)
                    return
                if page.title.strip() == "Please come back later":
                    tally.come_back_pages += 1
                    await asyncio.sleep(max(scenario.think, COME_BACK_SECONDS))
                    response = await tally.timed("task page (GET)", client.get(task_url))
                    continue
                tally.unexpected_pages[f"{response.status_code} {page.title.strip()!r}"] += 1
                return
            think = rng.uniform(0.5, 1.5) * scenario.think
            await asyncio.sleep(think)
            if time.monotonic() >= deadline:
                return
            posted = await tally.timed(
                "answer (POST)", client.post(urljoin(task_url, page.action), data=consistent_answer(page, rng, think))
            )
            if posted is None:
                return
            if posted.status_code != 302:
                tally.unexpected_pages[f"answer {posted.status_code} {PageReader(posted.text).title.strip()!r}"] += 1
                return
            tally.answers += 1
            tally.answered_at.append(time.monotonic())
            response = await tally.timed("task page (GET)", client.get(urljoin(task_url, posted.headers["location"])))


async def drive(links: list[str], scenario: Scenario, seed: int) -> tuple[Tally, float]:
    tally = Tally()
    started = time.monotonic()
    deadline = started + scenario.duration
    await asyncio.gather(*(rate(link, scenario, deadline, tally, random.Random(f"{seed}:{index}"))
                           for index, link in enumerate(links)))
    # Answers/s over the time traffic flowed: the duration, or less when every rater finished earlier.
    return tally, max(min(tally.last_activity or deadline, deadline) - started, 1e-9)


# --------------------------------------------------------------------------- the study and its invariants


def build_network(neurons: int):
    """One layer with `neurons` explained units (three methods), through the test builders."""
    from tests.evaluation.conftest import build_explained_network

    return build_explained_network(layers=("layer1",), units_per_layer=neurons, images=12)


def build_study(name: str, network, scenario: Scenario):
    from evaluation.services import create_study, invite_raters, rater_link
    from tests.evaluation.conftest import METHOD_NAMES

    study = create_study(name, network=network, methods=METHOD_NAMES, layers=["layer1"], per_layer=scenario.neurons,
                         raters_per_neuron=scenario.raters_per_neuron, seed=0)
    return study, [rater_link(rater) for rater in invite_raters(study, scenario.raters)]


def read_invariants(study, finished_links: set[str], accepted: int) -> dict[str, int]:
    """Counts that must be 0 (and the largest number of responses a neuron got), read back with the ORM."""
    from django.db.models import Count, F, Q

    from evaluation.models import Assignment, Rating, Response
    from evaluation.services import rater_link

    responses = Response.objects.filter(study=study)
    per_neuron = (responses.filter(is_check=False, verified=True).values("study_neuron").annotate(n=Count("pk"))
                  .values_list("n", flat=True))
    finished = [rater.pk for rater in study.raters.all() if rater_link(rater) in finished_links]
    stored = responses.count()
    return {
        "responses stored": stored,
        "most responses on one neuron": max(per_neuron, default=0),
        "neurons over K": sum(1 for n in per_neuron if n > study.raters_per_neuron),
        "duplicate (rater, neuron)": responses.filter(is_check=False).values("rater", "study_neuron")
        .annotate(n=Count("pk")).filter(n__gt=1).count(),
        "responses missing ratings": responses.annotate(
            rated=Count("ratings", distinct=True), shown=Count("assignment__slots", distinct=True)
        ).filter(Q(rated=0) | ~Q(rated=F("shown"))).count(),
        "ratings without their response": Rating.objects.filter(item__study_neuron__study=study)
        .exclude(response__study=study).count(),
        "completed tasks without a response": Assignment.objects.filter(
            study_neuron__study=study, status=Assignment.Status.COMPLETED, response__isnull=True).count(),
        "responses on a task not completed": responses.exclude(assignment__status=Assignment.Status.COMPLETED).count(),
        "reservations held by finished raters": Assignment.objects.filter(
            rater_id__in=finished, status=Assignment.Status.RESERVED, response__isnull=True).count(),
        "accepted answers not stored": max(accepted - stored, 0),
    }


def invariants_hold(invariants: dict[str, int], raters_per_neuron: int) -> bool:
    must_be_zero = {name: value for name, value in invariants.items()
                    if name not in ("responses stored", "most responses on one neuron")}
    return invariants["most responses on one neuron"] <= raters_per_neuron and not any(must_be_zero.values())


# --------------------------------------------------------------------------- report


def percentile_ms(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.array(values) * 1000, q)) if values else math.inf


def percentiles_ms(values: list[float]) -> str:
    if not values:
        return "no requests"
    return "  ".join(f"p{q} {percentile_ms(values, q):6.1f} ms" for q in (50, 95, 99)) + f"  (n={len(values)})"


def report(scenario: Scenario, tally: Tally, seconds: float, invariants: dict[str, int], load_before, held: bool):
    load = lambda figures: "(" + ", ".join(f"{value:.2f}" for value in figures) + ")"  # noqa: E731
    print(f"  scenario: {scenario.name}: {scenario.raters} raters, think {scenario.think:g} s, at most "
          f"{scenario.duration:g} s, study of {scenario.neurons} neurons x K={scenario.raters_per_neuron}")
    print(f"    offered:  {scenario.offered}")
    print(f"    achieved: {tally.answers / seconds:.1f} answers/s ({tally.answers} answers in {seconds:.1f} s; "
          f"{len(tally.finished)} raters reached the thank-you page, {tally.come_back_pages} 'come back later' pages)")
    if len(tally.answered_at) > 1:
        # Raters arrive over one think time and think before their first answer: the rate after that ramp.
        ramped = (len(tally.answered_at) - 1) / max(tally.answered_at[-1] - tally.answered_at[0], 1e-9)
        print(f"              {ramped:.1f} answers/s from the first answer to the last")
    per_answer = f"{1000 * tally.server_cpu / tally.answers:.0f} ms" if tally.answers else "n/a"
    print(f"    CPU: server {tally.server_cpu:.1f} s ({per_answer} an answer, home page and task pages included; "
          f"{tally.server_cpu / seconds:.2f} cores), simulated raters {tally.client_cpu:.1f} s")
    for kind in ("rater home (GET)", "task page (GET)", "answer (POST)"):
        print(f"    {kind:17s} {percentiles_ms(tally.latencies[kind])}")
    statuses = sum((tally.statuses[kind] for kind in tally.statuses), Counter())
    print("    statuses: " + ", ".join(f"{name} {statuses.get(name, 0)}" for name in ("2xx", "3xx", "4xx", "5xx"))
          + f"; transport failures {sum(tally.failures.values())}" + (f" {dict(tally.failures)}" if tally.failures else ""))
    if tally.unexpected_pages:
        print(f"    unexpected pages: {dict(tally.unexpected_pages)}")
    print(f"    invariants: {'OK' if held else 'FAILED'}: " + ", ".join(f"{name} {value}" for name, value in invariants.items()))
    task_p95 = max((percentile_ms(tally.latencies[kind], 95) for kind in ("task page (GET)", "answer (POST)")), default=math.inf)
    print(f"    targets: p95 of task page and answer < {P95_TARGET_MS} ms: "
          f"{'held' if task_p95 < P95_TARGET_MS else 'missed'} (worse p95 {task_p95:.1f} ms); "
          f"no 5xx: {'held' if not statuses.get('5xx') else 'missed'}")
    print(f"    load average before {load(load_before)}, after {load(os.getloadavg())}", flush=True)


# --------------------------------------------------------------------------- one database


def run_database(label: str, database_url: str | None, scenarios: list[Scenario], seed: int) -> int:
    """Everything for one database, in a fresh interpreter (spawned): settings come from this environment."""
    from tests.processes import free_port

    workdir = Path(tempfile.mkdtemp(prefix="neuroneval-load-"))
    port = free_port()
    os.environ.update({
        "NEURONEVAL_VAR_DIR": str(workdir / "var"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "NEURONEVAL_SITE_URL": f"http://127.0.0.1:{port}",
    })
    os.environ.pop("DJANGO_SECRET_KEY", None)  # generated into the var dir, as on a fresh install
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    (workdir / "var" / "static").mkdir(parents=True)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections

    call_command("migrate", verbosity=0)
    database = settings.DATABASES["default"]
    with connection.cursor() as cursor:
        cursor.execute("select sqlite_version()" if connection.vendor == "sqlite" else "show server_version")
        version = cursor.fetchone()[0]
    print(f"\n=== {label}: {connection.vendor} {version}, options {database.get('OPTIONS', {})}, "
          f"CONN_MAX_AGE {database['CONN_MAX_AGE']}; DEBUG={settings.DEBUG}; load average {os.getloadavg()}", flush=True)
    started = time.perf_counter()
    network = build_network(max(scenario.neurons for scenario in scenarios))
    studies = [build_study(f"load-{index}", network, scenario) for index, scenario in enumerate(scenarios)]
    print(f"  built the network and {len(studies)} studies in {time.perf_counter() - started:.1f} s", flush=True)
    connections.close_all()
    all_held = True
    with gunicorn(port, workdir / "gunicorn.log") as server:
        for scenario, (study, links) in zip(scenarios, studies):
            load_before = os.getloadavg()
            server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
            tally, seconds = asyncio.run(drive(links, scenario, seed))
            tally.server_cpu = cpu_seconds(server.pid) - server_cpu
            tally.client_cpu = time.process_time() - client_cpu
            invariants = read_invariants(study, tally.finished, tally.answers)
            connections.close_all()
            held = invariants_hold(invariants, scenario.raters_per_neuron)
            all_held &= held
            report(scenario, tally, seconds, invariants, load_before, held)
    errors = (workdir / "gunicorn.log").read_text(errors="replace").count("Traceback")
    if errors:
        print(f"  gunicorn log has {errors} tracebacks: {workdir / 'gunicorn.log'}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all_held else 1


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its children: gunicorn's master and workers."""
    import psutil

    server = psutil.Process(pid)
    processes = [server, *server.children(recursive=True)]
    return sum(sum(process.cpu_times()[:2]) for process in processes)


def run_database_process(label, database_url, scenarios, seed):
    sys.exit(run_database(label, database_url, scenarios, seed))


def spawn(label: str, database_url: str | None, scenarios: list[Scenario], seed: int) -> int:
    """One database per interpreter: Django's settings (and its database) are chosen once per process."""
    process = multiprocessing.get_context("spawn").Process(
        target=run_database_process, args=(label, database_url, scenarios, seed)
    )
    process.start()
    process.join()
    return process.exitcode


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="sqlite,postgres",
                        help="sqlite, postgres or both comma-separated (default); postgres uses DATABASE_URL's server "
                             "when it names one, else a throwaway cluster")
    parser.add_argument("--rounds", type=int, default=1, help="Repeat the databases in turn (alternating).")
    parser.add_argument("--raters", type=int, help="One custom scenario with this many raters.")
    parser.add_argument("--think", type=float, help="One custom scenario with this mean think time (s).")
    parser.add_argument("--duration", type=float, default=60, help="Seconds of traffic per scenario at most.")
    parser.add_argument("--neurons", type=int, default=800, help="Neurons in each study (the reference study's 800).")
    parser.add_argument("--k", type=int, default=3, help="Raters per neuron.")
    parser.add_argument("--workers", type=int,
                        help="gunicorn workers (GUNICORN_WORKERS; default docker-compose.yml's, 1 with --quick)")
    parser.add_argument("--threads", type=int, help="gunicorn threads a worker (GUNICORN_THREADS; default docker-compose.yml's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="Smoke run: a handful of raters on a tiny study.")
    options = parser.parse_args()
    databases = [name.strip() for name in options.database.replace("both", "sqlite,postgres").split(",") if name.strip()]
    unknown = set(databases) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"--database: unknown {', '.join(sorted(unknown))} (sqlite, postgres)")
    scenarios = scenarios_from(options)
    # Read by deployed_gunicorn_arguments() in the spawned processes, as the compose file reads them.
    if options.workers or options.quick:
        os.environ["GUNICORN_WORKERS"] = str(options.workers or 1)
    if options.threads:
        os.environ["GUNICORN_THREADS"] = str(options.threads)
    print(f"load benchmark: databases {databases} x {options.rounds} round(s); load average {os.getloadavg()}", flush=True)
    status = 0
    with (postgres_server() if "postgres" in databases else nullcontext(None)) as server_url:
        for round_number in range(options.rounds):
            for database in databases:
                label = f"{database} (round {round_number + 1})"
                if database == "sqlite":
                    status |= spawn(label, None, scenarios, options.seed)
                    continue
                with fresh_postgres_database(server_url) as url:
                    status |= spawn(label, url, scenarios, options.seed)
    sys.exit(status)


if __name__ == "__main__":
    main()
