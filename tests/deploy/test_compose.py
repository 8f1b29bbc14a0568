"""deploy/compose.yaml (the course's server) and deploy/compose.gpu-host.yaml (each extra GPU
machine), checked as configuration: what cannot run here (GPUs in containers, a second machine)
is at least wired as deploy/README.md says. docker-compose validates both where it is installed;
`check --deploy` passes on the web service's own settings."""
from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SOCKET = "/var/run/docker.sock:/var/run/docker.sock"


def services(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())["services"]  # merge keys (<<) resolved by safe_load


def graders(name: str) -> dict:
    return {n: s for n, s in services(name).items() if n.startswith("grader-")}


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


@pytest.mark.parametrize("name", ["compose.yaml", "compose.gpu-host.yaml"])
def test_each_grading_worker_owns_one_gpu_and_is_the_only_service_with_the_docker_socket(name):
    found = graders(name)
    assert len(found) >= 2
    for service_name, service in services(name).items():
        assert (SOCKET in service.get("volumes", [])) == (service_name in found), service_name
    gpus = [s["environment"]["BASIN_GPU"] for s in found.values()]
    workers = [flag(s["command"], "-n") for s in found.values()]
    assert len(set(gpus)) == len(gpus) and len(set(workers)) == len(workers)
    for service in found.values():
        env = service["environment"]
        assert env["BASIN_SANDBOX_BACKEND"] == "docker" and env["BASIN_PRODUCTION"] == "1"
        assert flag(service["command"], "-Q").split(",")[0] == "scoring"  # scores first
        assert flag(service["command"], "--concurrency") == "1"  # one sandbox per GPU at a time
        # The work directory is mounted at its host path: the sandbox containers it starts mount from it.
        work = env["BASIN_WORK_DIR"]
        assert f"{work}:{work}" in service["volumes"]
        assert service["group_add"], "the worker's user needs the socket's group"
        assert f"--worker {flag(service['command'], '-n').split('@')[0]}@" in service["healthcheck"]["test"][1]


@pytest.mark.parametrize("name", ["compose.yaml", "compose.gpu-host.yaml"])
def test_secrets_come_from_files_never_from_the_environment(name):
    for service_name, service in services(name).items():
        env = service.get("environment", {})
        for key, value in env.items():
            assert key.endswith("_FILE") or not re.search("SECRET|PASSWORD|ACCESS_KEY", key), f"{service_name}: {key}"
            assert not re.search(r"://[^/]*@", str(value)), f"{service_name}: credentials in {key}"
        assert "DATABASE_URL" not in env and "BASIN_SECRET_KEY" not in env


def test_the_server_runs_each_part_once_and_the_extra_machine_only_graders():
    main = services("compose.yaml")
    assert {"proxy", "web", "postgres", "redis", "beat", "worker"} <= set(main)
    assert flag(main["worker"]["command"], "-Q") == "basin"  # the watchdog's queue, off the grading workers
    assert main["beat"]["command"] == ["beat"] and main["web"]["command"] == ["web"]
    extra = services("compose.gpu-host.yaml")
    assert set(extra) == set(graders("compose.gpu-host.yaml"))  # no web, database, broker or beat there
    for service in extra.values():
        assert service["environment"]["CELERY_BROKER_URL_FILE"] == "/run/secrets/broker_url"
    assert "--requirepass" in " ".join(main["redis"]["command"])  # the broker other machines reach has a password


def test_the_proxy_serves_the_static_files_web_collects_and_caps_uploads():
    main = services("compose.yaml")
    static_root = main["web"]["environment"]["BASIN_STATIC_ROOT"]
    assert f"basin-static:{static_root}" in main["web"]["volumes"]
    assert f"basin-static:{static_root}:ro" in main["proxy"]["volumes"]
    template = (DEPLOY / "proxy/basin.conf.template").read_text()
    assert f"alias {static_root}/;" in template
    assert "client_max_body_size ${BASIN_MAX_UPLOAD_MB}m;" in template
    assert "proxy_set_header X-Forwarded-Proto https;" in template  # what SECURE_PROXY_SSL_HEADER reads


@pytest.mark.parametrize("name", ["compose.yaml", "compose.gpu-host.yaml"])
def test_docker_compose_validates_the_file(name, tmp_path):
    if shutil.which("docker-compose") is None and shutil.which("docker") is None:
        pytest.skip("neither docker-compose nor docker is installed")
    command = ["docker-compose"] if shutil.which("docker-compose") else ["docker", "compose"]
    if subprocess.run([*command, "version"], capture_output=True).returncode != 0:
        pytest.skip(f"{' '.join(command)} does not run here (Debian's docker-compose package provides it)")
    shutil.copytree(DEPLOY / "proxy", tmp_path / "proxy")
    (tmp_path / "secrets").mkdir()
    for secret in ("secret_key", "database_url", "postgres_password", "redis_password", "broker_url", "cache_url",
                   "s3_access_key_id", "s3_secret_access_key"):
        (tmp_path / "secrets" / secret).write_text("x\n")
    shutil.copy(DEPLOY / "compose.env.example", tmp_path / ".env")
    shutil.copy(DEPLOY / "gpu-host.env.example", tmp_path / "gpu-host.env")
    files = [name] + (["compose.s3.yaml"] if name == "compose.yaml" else [])
    for f in files:
        shutil.copy(DEPLOY / f, tmp_path / f)
    done = subprocess.run([*command, *[a for f in files for a in ("-f", f)], "config", "--quiet"], cwd=tmp_path,
                          capture_output=True, text=True, env=os.environ | {"BASIN_MAIN_HOST": "10.0.0.2"}, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_deploy_is_clean_with_the_web_services_settings(tmp_path):
    web = services("compose.yaml")["web"]
    env = {k: str(v) for k, v in web["environment"].items()}
    (tmp_path / "secret_key").write_text(secrets.token_urlsafe(50))
    (tmp_path / "database_url").write_text("postgres://postgres@127.0.0.1:5432/test")
    (tmp_path / "broker_url").write_text("redis://:pw@127.0.0.1:6379/0")
    (tmp_path / "cache_url").write_text("redis://:pw@127.0.0.1:6379/1")
    env |= {"BASIN_SECRET_KEY_FILE": str(tmp_path / "secret_key"), "DATABASE_URL_FILE": str(tmp_path / "database_url"),
            "CELERY_BROKER_URL_FILE": str(tmp_path / "broker_url"), "BASIN_CACHE_URL_FILE": str(tmp_path / "cache_url"),
            "BASIN_DATA_DIR": str(tmp_path / "data"), "BASIN_STATIC_ROOT": str(tmp_path / "static"),
            "BASIN_ALLOWED_HOSTS": "basin.example.edu", "BASIN_SANDBOX_BACKEND": "docker"}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BASIN_", "DATABASE_URL", "CELERY_"))}
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                          env=clean | env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "System check identified no issues (0 silenced)." in done.stdout, (
        done.stdout + done.stderr)
