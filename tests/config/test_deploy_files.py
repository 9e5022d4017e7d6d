"""The compose deployment: only the TLS proxy faces clients; it caps bodies and sets the proto header Django trusts."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_only_the_proxy_publishes_ports_and_it_passes_to_gunicorn_threads():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert "--worker-class gthread" in " ".join(services["web"]["command"])
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_pass http://web:8000;" in nginx
    assert re.search(r"proxy_set_header X-Forwarded-Proto \$scheme;", nginx)
    assert re.search(r"client_max_body_size\s+\d+m;", nginx) and "proxy_request_buffering on;" in nginx
    assert "ssl_protocols       TLSv1.2 TLSv1.3;" in nginx


def test_readme_docker_example_suggests_no_key():
    readme = (ROOT / "README.md").read_text()
    example = readme[readme.index("docker build -t neuroneval ."):readme.index("## Code layout")]
    assert "DJANGO_SECRET_KEY=" not in example
