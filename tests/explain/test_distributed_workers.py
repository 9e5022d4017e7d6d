"""A chunked job on a real redis-server and real Celery workers, one of which is killed mid-chunk."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed (.ci/run installs it)"),
]

SUBMIT = """
import django; django.setup()
import tests.explain.distributed_support
from explain.models import Network, Layer
from explain.distributed import submit_chunked_job
network = Network.objects.create(name="net", architecture="test")
Layer.objects.create(network=network, name="conv2", unit_count=12)
job = submit_chunked_job(network="net", layer="conv2", method="test-slow-units", units=range(12), chunk_size=4,
                         params={"seconds_per_unit": 0.6})
print(job.pk)
"""




@pytest.fixture
def environment(tmp_path):
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    markers = tmp_path / "markers"
    markers.mkdir()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", NEURONEVAL_VAR_DIR=str(tmp_path),
               DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0",
               CELERY_VISIBILITY_TIMEOUT="3",
               # Look for a dead worker's messages every second instead of every 100 s.
               CELERY_UNACKED_RESTORE_INTERVAL="1", CELERY_UNACKED_RESTORE_THROTTLE="1",
               NEURONEVAL_TEST_MARKERS=str(markers), PYTHONPATH=str(ROOT),
               PYTHONUNBUFFERED="1")
    try:
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip()
                 == b"PONG", 10, "redis-server did not start")
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        yield env, tmp_path / "db.sqlite3", markers
    finally:
        redis.terminate()
        redis.wait(10)


def start_worker(env, name, log):
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "gpu", "-P", "solo", "-c", "1", "-n", f"{name}@%h",
         "-I", "tests.explain.distributed_support", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-l", "info"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def query(db, sql):
    with sqlite3.connect(db, timeout=30) as connection:
        return connection.execute(sql).fetchall()


def test_killed_worker_leaves_its_chunk_to_another_and_the_job_completes_exactly_once(environment, tmp_path):
    env, db, markers = environment
    job_id = int(subprocess.run([sys.executable, "-c", SUBMIT], cwd=ROOT, env=env, check=True, capture_output=True,
                                text=True).stdout.strip().splitlines()[-1])
    first = start_worker(env, "first", open(tmp_path / "first.log", "w"))
    try:
        # Kill the first worker (the whole process group, no warm shutdown) in the middle of its first chunk.
        wait_for(lambda: len(list(markers.glob("started-*"))) >= 2, 60, "the first worker never started a chunk")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    interrupted = query(db, f"SELECT [index], status, attempts FROM explain_jobchunk WHERE job_id={job_id} "
                            "AND status='running'")
    assert len(interrupted) == 1, "the worker should have died inside a chunk"

    second = start_worker(env, "second", open(tmp_path / "second.log", "w"))
    try:
        wait_for(lambda: query(db, f"SELECT status FROM explain_job WHERE id={job_id}")[0][0] == "succeeded", 90,
                 "job did not complete: " + (tmp_path / "second.log").read_text()[-2000:])
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(20)

    rows = query(db, "SELECT n.unit, e.rank, e.text FROM explain_explanation e JOIN explain_neuron n "
                     f"ON e.neuron_id = n.id WHERE e.job_id={job_id} ORDER BY n.unit, e.rank")
    assert [(unit, rank) for unit, rank, _ in rows] == [(unit, rank) for unit in range(12) for rank in (1, 2)]
    chunks = query(db, f"SELECT [index], status, attempts FROM explain_jobchunk WHERE job_id={job_id} ORDER BY [index]")
    assert all(status == "succeeded" for _, status, _ in chunks)
    assert dict((index, attempts) for index, _, attempts in chunks)[interrupted[0][0]] == 2
    assert query(db, f"SELECT progress_done, progress_total FROM explain_job WHERE id={job_id}")[0] == (12, 12)
