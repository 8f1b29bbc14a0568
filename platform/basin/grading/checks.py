"""System checks for rules across grading and storage settings (`python manage.py check [--deploy]`)."""
from django.conf import settings
from django.core.checks import Error, Warning, register


@register("basin", deploy=True)
def sandbox_is_production_grade(app_configs, **kwargs):
    backend = settings.BASIN_SANDBOX_BACKEND
    if backend == "process":
        return [Error("BASIN_SANDBOX_BACKEND=process runs student code as a plain subprocess of the worker.",
                      hint="Set BASIN_SANDBOX_BACKEND=docker on grading workers with a Docker engine.",
                      id="basin.E001")]
    if backend == "auto":
        return [Error("BASIN_SANDBOX_BACKEND=auto falls back to the process sandbox when Docker is down.",
                        hint="Set BASIN_SANDBOX_BACKEND=docker in production.", id="basin.E003")]
    return []


@register("basin")
def broker_is_shared(app_configs, **kwargs):
    if settings.PRODUCTION and settings.CELERY_BROKER_URL == "filesystem://":
        return [Error("The embedded file broker only works when the web and every worker share one disk.",
                      hint="Set CELERY_BROKER_URL to a Redis URL in production.", id="basin.E002")]
    return []


@register("basin")
def s3_storage_is_configured(app_configs, **kwargs):
    """An S3 storage without a bucket or keys would fail on the first upload; say so at start-up.
    Keys are required, not left to boto's own lookup, so a worker never stores with whatever
    credentials its machine happens to have."""
    if settings.BASIN_STORAGE != "s3":
        return []
    options = settings.STORAGES["default"].get("OPTIONS", {})
    errors = []
    if not options.get("bucket_name"):
        errors.append(Error("BASIN_STORAGE=s3 has no bucket to store submissions in.",
                            hint="Set BASIN_S3_BUCKET to the bucket's name.", id="basin.E004"))
    missing = [name for name, option in (("BASIN_S3_ACCESS_KEY_ID", "access_key"),
                                         ("BASIN_S3_SECRET_ACCESS_KEY", "secret_key"))
               if not options.get(option)]
    if missing:
        errors.append(Error(f"BASIN_STORAGE=s3 has no credentials: {', '.join(missing)} unset.",
                            hint=f"Set {' and '.join(missing)} (or {'_FILE and '.join(missing)}_FILE).",
                            id="basin.E005"))
    return errors


@register("basin", deploy=True)
def email_reaches_people(app_configs, **kwargs):
    """Confirmation links are how an account's address becomes one a roster may match: printed to
    a log instead of sent, no student can confirm, and every roster line meeting an existing
    account becomes a conflict."""
    if settings.PRODUCTION and settings.EMAIL_BACKEND.endswith(".console.EmailBackend"):
        return [Warning("E-mail goes to the log (BASIN_EMAIL_BACKEND=console): nobody can confirm an address.",
                        hint="Set BASIN_EMAIL_BACKEND=smtp with BASIN_EMAIL_HOST, BASIN_EMAIL_PORT, BASIN_EMAIL_USER, "
                             "BASIN_EMAIL_PASSWORD_FILE and BASIN_EMAIL_FROM (deploy/.env.example).",
                        id="basin.W006")]
    return []
