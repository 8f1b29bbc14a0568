"""`check --deploy` refuses the process sandbox and the file broker in production."""
from django.core.checks import run_checks

# Storage, broker, logs and settings: the same on SQLite and PostgreSQL; not re-run there.


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


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    """What an operator runs before opening Basin to a course: every Django and Basin deployment
    check passes on the production settings (HTTPS, secure cookies, HSTS, Docker, a shared broker)."""
    import os
    import secrets
    import subprocess
    import sys
    from pathlib import Path

    env = os.environ | {"BASIN_PRODUCTION": "1", "BASIN_SECRET_KEY": secrets.token_urlsafe(50),
                        "BASIN_ALLOWED_HOSTS": "basin.example.edu", "BASIN_DATA_DIR": str(tmp_path),
                        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
                        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0", "BASIN_SANDBOX_BACKEND": "docker",
                        "BASIN_EMAIL_BACKEND": "smtp"}
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "System check identified no issues (0 silenced)." in done.stdout, (
        done.stdout + done.stderr)
    weak = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=Path(__file__).resolve().parents[2], env=env | {"BASIN_HSTS_SECONDS": "0"},
                          capture_output=True, text=True, timeout=120)
    assert weak.returncode != 0 and "security.W004" in weak.stderr  # the test can fail: HSTS off is reported


def test_production_without_a_mail_server_is_warned_about(settings):
    from basin.grading.checks import email_reaches_people

    settings.PRODUCTION = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    assert [w.id for w in email_reaches_people(None)] == ["basin.W006"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert email_reaches_people(None) == []
