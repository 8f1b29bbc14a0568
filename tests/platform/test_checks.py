"""`check --deploy` refuses the process sandbox and the file broker in production."""
from django.core.checks import run_checks


def ids(**kwargs):
    return {m.id for m in run_checks(include_deployment_checks=True, tags=["basin"], **kwargs)}


def test_the_process_sandbox_is_refused_by_the_deploy_check(settings):
    settings.BASIN_SANDBOX_BACKEND = "process"
    assert "basin.E001" in ids()
    settings.BASIN_SANDBOX_BACKEND = "auto"
    assert "basin.E003" in ids() and "basin.E001" not in ids()
    settings.BASIN_SANDBOX_BACKEND = "docker"
    assert not {"basin.E001", "basin.E003"} & ids()


def test_production_needs_a_shared_broker(settings):
    settings.PRODUCTION = True
    settings.CELERY_BROKER_URL = "filesystem://"
    assert "basin.E002" in ids()
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    assert "basin.E002" not in ids()
