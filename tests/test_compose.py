"""docker-compose.yml must stay valid: Debian's docker-compose checks it without a Docker engine."""

import shutil
import subprocess

import pytest
import yaml

from cli.settings import PROJECT_DIR


def test_compose_file_is_valid():
    if not shutil.which("docker-compose"):
        pytest.fail("docker-compose is not installed (make test installs Debian's docker-compose)")
    result = subprocess.run(["docker-compose", "-f", str(PROJECT_DIR / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, cwd=PROJECT_DIR, timeout=60)
    assert result.returncode == 0, result.stderr.decode()


def test_compose_runs_the_commands_the_cli_has():
    from click.testing import CliRunner

    from cli.main import main

    compose = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text(encoding="utf-8"))
    for name in ("topics", "worker", "web"):
        command = compose["services"][name]["command"]
        result = CliRunner().invoke(main, [command[0], "--help"])
        assert result.exit_code == 0, (name, result.output)
    assert {"kafka", "elasticsearch", "kibana", "prometheus"} <= set(compose["services"])
    scrape = yaml.safe_load((PROJECT_DIR / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == ["web:8345"]
