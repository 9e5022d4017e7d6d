"""The explain command queues its job on a real redis-server; a real Celery worker on the gpu queue runs it."""
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed (.ci/run installs it)")

SETUP = """
import django; django.setup()
from explain.models import Network
from demo.synthetic import SyntheticConfig, ensure_synthetic_probe
ensure_synthetic_probe("tiny", seed=0, config=SyntheticConfig(n_images=24))
Network.objects.create(name="random-cnn", architecture="demo-cnn", weights_source="random:0")
"""




def test_queued_explain_job_is_run_by_a_celery_worker(tmp_path):
    port = free_port()
    database = tmp_path / "db.sqlite3"
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings",
        NEURONEVAL_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{database}",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0",
        PYTHONPATH=str(ROOT),
    )
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    worker = None
    log = (tmp_path / "worker.log").open("w")
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        subprocess.run([sys.executable, "-c", SETUP], cwd=ROOT, env=env, check=True)
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "gpu", "-P", "solo", "-I", "tests.explain.engine_celery_support",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        queued = subprocess.run(
            [sys.executable, "manage.py", "explain", "--network", "random-cnn", "--probe", "tiny", "--layers", "conv4",
             "--methods", "test-top-caption", "--top-k", "3", "--queue"],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )
        assert queued.stdout.startswith("queued job 1")

        def status():
            with sqlite3.connect(database, timeout=30) as connection:
                return connection.execute("select status, error from explain_job where id = 1").fetchone()

        wait_for(lambda: status()[0] in ("succeeded", "failed"), 90, f"the worker did not finish the job: {status()}")
        assert status() == ("succeeded", ""), (tmp_path / "worker.log").read_text()[-2000:]
        with sqlite3.connect(database) as connection:
            explanations = connection.execute("select count(*), count(distinct neuron_id) from explain_explanation").fetchone()
            top_images = connection.execute("select count(*) from explain_topimage").fetchone()[0]
        assert explanations == (64, 64) and top_images == 64 * 3
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(20)
        redis.terminate()
        redis.wait(10)
        log.close()
