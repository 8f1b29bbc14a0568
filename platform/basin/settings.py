"""Basin's one settings module, driven by environment variables (see deploy/.env.example).

The embedded default needs no server: SQLite and files under BASIN_DATA_DIR, and Celery over a
broker kept in files there, with a real worker process. DATABASE_URL (PostgreSQL) and
CELERY_BROKER_URL (Redis) switch to the production components.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from . import dispatch, local_files
from .env import env_bool, env_choice, env_int, env_list, env_path, env_str

# Importing the settings writes nothing: the data directory and the files below that Basin makes
# itself are made when it starts (basin.local_files, from basin.apps.BasinConfig.ready).
DATA_DIR = env_path("BASIN_DATA_DIR", Path.cwd() / "var")
PRODUCTION = env_bool("BASIN_PRODUCTION", False)
DEBUG = env_bool("BASIN_DEBUG", False)

SECRET_KEY = env_str("BASIN_SECRET_KEY", "")
if not SECRET_KEY and PRODUCTION:
    raise ImproperlyConfigured("BASIN_SECRET_KEY (or BASIN_SECRET_KEY_FILE) must be set when BASIN_PRODUCTION=1")
# Else a key of the data directory's own, made once by the first start, never committed (None: given).
BASIN_OWN_SECRET_KEY_PATH = None if SECRET_KEY else DATA_DIR / "secret_key"
SECRET_KEY = SECRET_KEY or local_files.read(BASIN_OWN_SECRET_KEY_PATH)
ALLOWED_HOSTS = env_list("BASIN_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("BASIN_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "basin",  # first: its ready() makes the data directory's files before any other app starts
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",  # API tokens stored as digests, with an expiry (basin.accounts.models.ApiToken)
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files served by Basin, not a CDN
    "axes",  # failed logins counted per account and per address, in the database (basin.accounts.lockout)
    "basin.accounts",
    "basin.courses",
    "basin.submissions",
    "basin.grading",
    "basin.leaderboard",
    "basin.demo",
    "basin.toolkit",
]

MIDDLEWARE = [
    "basin.logs.RequestIdMiddleware",  # first: every line a request logs carries its id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",  # CONTENT_SECURITY_POLICY below, on every page and API answer
    "basin.private_cache.PrivateCacheMiddleware",  # after the session's cookie: sees what was set
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "basin.toolkit.install.UpgradeNoticeMiddleware",  # an outdated `basin` is told how to upgrade
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into basin.accounts.lockout's 429
]

ROOT_URLCONF = "basin.urls"
WSGI_APPLICATION = "basin.wsgi.application"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

_database_url = env_str("DATABASE_URL", "")
if _database_url:
    try:
        DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)}
    except ValueError as e:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL Django understands: {e}") from e
else:
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "basin.sqlite3",  # type: ignore[typeddict-item]  # Django takes a Path; the stubs say str
        # IMMEDIATE: a transaction takes the write lock at its start, so quota checks serialize;
        # WAL lets the web and the worker read while the other writes.
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20,
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
    }}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "basin.accounts.password_changes.RevokeTokensOnPasswordChange"},  # counts, refuses nothing
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_path("BASIN_STATIC_ROOT", DATA_DIR / "static")  # collectstatic's target: the proxy's
# Plotly.js for the diagnostics pages, from the plotly wheel: served by Basin, never from a CDN.
# Found, not imported: importing settings loads no plotting library.
_plotly = importlib.util.find_spec("plotly")
if _plotly is None or _plotly.origin is None:
    raise ImproperlyConfigured("plotly is not installed: pip install -e . (the diagnostics pages serve its plotly.js)")
STATICFILES_DIRS = [("plotly", Path(_plotly.origin).parent / "package_data")]
WHITENOISE_USE_FINDERS = not PRODUCTION  # no collectstatic needed to try Basin (STATIC_ROOT is made at start)
MEDIA_ROOT = DATA_DIR / "media"
# One cache shared by the web processes where BASIN_CACHE_URL names a Redis; per process otherwise.
_cache_url = env_str("BASIN_CACHE_URL", "")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}
          if _cache_url else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# A leaderboard's table is rendered at most once per this many seconds per homework and kind of
# viewer; a new score shows within it. 0 renders it on every request.
BASIN_LEADERBOARD_CACHE_SECONDS = env_int("BASIN_LEADERBOARD_CACHE_SECONDS", 5, minimum=0)

# Uploads over this go to a temporary file, not memory; the per-homework limit is checked first.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Uploaded submissions: a directory under MEDIA_ROOT, or an S3-compatible bucket that every web and
# worker machine reaches. Code touches stored files only through the storage API (open, save),
# never a local .path. basin.grading.checks names any variable s3 still needs.
BASIN_STORAGE = env_choice("BASIN_STORAGE", "local", ("local", "s3"))
if BASIN_STORAGE == "s3":
    _addressing = env_choice("BASIN_S3_ADDRESSING_STYLE", "auto", ("auto", "path", "virtual"))
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": env_str("BASIN_S3_BUCKET", ""),
        "endpoint_url": env_str("BASIN_S3_ENDPOINT_URL", "") or None,  # None: AWS itself
        "region_name": env_str("BASIN_S3_REGION", "") or None,
        # Secrets may also come from BASIN_S3_*_FILE (basin.env reads NAME_FILE for every variable).
        "access_key": env_str("BASIN_S3_ACCESS_KEY_ID", ""),
        "secret_key": env_str("BASIN_S3_SECRET_ACCESS_KEY", ""),
        "location": env_str("BASIN_S3_PREFIX", "").strip("/"),
        # Submissions are never public: private objects, and any URL made for one is signed and expires.
        "default_acl": "private",
        "querystring_auth": True,
        "file_overwrite": False,  # a name already taken gets a new one instead of replacing a submission
        "addressing_style": None if _addressing == "auto" else _addressing,
        # Reading a stored file downloads it: above this it spills to a temporary file, not memory.
        "max_memory_size": FILE_UPLOAD_MAX_MEMORY_SIZE,
    }}
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage" if PRODUCTION
                    else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The Content-Security-Policy (django-csp): scripts, styles, fonts and images from Basin itself only
# (Plotly.js and Swagger UI are served from the wheels), no inline script, no eval; page data goes
# through json_script. tests/browser/ open every kind of page under it and find no violation.
CONTENT_SECURITY_POLICY = {"DIRECTIVES": {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
# A roster's set-password links (the password-reset token) last two weeks: the start of a term is busy.
PASSWORD_RESET_TIMEOUT = 14 * 24 * 3600

# --- Accounts: guessing limits and e-mail ---------------------------------------------------
# Every path that checks a password goes through authenticate(); axes refuses it (429) for the
# cool-off after BASIN_LOGIN_FAILURE_LIMIT failures of one username from one address, after
# BASIN_LOGIN_FAILURES_PER_ADDRESS from one address, and, once an account had
# BASIN_LOGIN_FAILURES_PER_ACCOUNT from all addresses, after 3 of it from any one address: no one
# locks a named account or a shared campus address cheaply (basin.accounts.login_limits).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "basin.accounts.login_limits.LoginLimitsHandler"
AXES_FAILURE_LIMIT = env_int("BASIN_LOGIN_FAILURE_LIMIT", 10, minimum=1)
BASIN_LOGIN_FAILURES_PER_ADDRESS = env_int("BASIN_LOGIN_FAILURES_PER_ADDRESS", 100, minimum=1)
BASIN_LOGIN_FAILURES_PER_ACCOUNT = env_int("BASIN_LOGIN_FAILURES_PER_ACCOUNT", 50, minimum=1)
AXES_COOLOFF_TIME = env_int("BASIN_LOGIN_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # the pair; the wider limits: login_limits
AXES_LOCKOUT_CALLABLE = "basin.accounts.lockout.lockout_response"
AXES_USERNAME_CALLABLE = "basin.accounts.lockout.counted_username"
AXES_CLIENT_IP_CALLABLE = "basin.accounts.throttles.client_address"
AXES_VERBOSE = False
AXES_DISABLE_ACCESS_LOG = True  # failures only: no history of successful logins is kept
# Reverse proxies in front of the web processes (the deploy's nginx: 1). The client's address is
# the one the nearest proxy appended to X-Forwarded-For; with 0 the header is ignored.
BASIN_PROXY_COUNT = env_int("BASIN_PROXY_COUNT", 1 if PRODUCTION else 0, minimum=0)
# Wrong join codes per hour (page, API, `basin join`, sign-up) before 429, per account and per address.
BASIN_JOIN_CODE_FAILURES_PER_ACCOUNT = env_int("BASIN_JOIN_CODE_FAILURES_PER_ACCOUNT", 10, minimum=1)
BASIN_JOIN_CODE_FAILURES_PER_ADDRESS = env_int("BASIN_JOIN_CODE_FAILURES_PER_ADDRESS", 50, minimum=1)
BASIN_CONFIRMATION_EMAILS_PER_HOUR = 5  # per account: nobody floods a stranger's inbox through Basin
# ... nor through many accounts: confirmation e-mails to one address a day, from all accounts.
BASIN_CONFIRMATION_EMAILS_PER_ADDRESS_PER_DAY = env_int("BASIN_CONFIRMATION_EMAILS_PER_ADDRESS_PER_DAY", 5,
                                                        minimum=1)
# Sign-up tries with a valid join code per hour from one address (each says whether a username is
# taken); a class signing up behind one address needs it raised, or a roster import.
BASIN_SIGNUPS_PER_ADDRESS_PER_HOUR = env_int("BASIN_SIGNUPS_PER_ADDRESS_PER_HOUR", 20, minimum=1)
# A confirmed address is what a roster may match an account by (basin.accounts.services).
BASIN_EMAIL_CONFIRM_DAYS = env_int("BASIN_EMAIL_CONFIRM_DAYS", 3, minimum=1)
EMAIL_BACKEND = {"console": "django.core.mail.backends.console.EmailBackend",
                 "smtp": "django.core.mail.backends.smtp.EmailBackend"}[
    env_choice("BASIN_EMAIL_BACKEND", "console", ("console", "smtp"))]
EMAIL_HOST = env_str("BASIN_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("BASIN_EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("BASIN_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("BASIN_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("BASIN_EMAIL_STARTTLS", False)
EMAIL_TIMEOUT = env_int("BASIN_EMAIL_TIMEOUT_SECONDS", 10, minimum=1)  # a slow mail server never hangs a page
DEFAULT_FROM_EMAIL = env_str("BASIN_EMAIL_FROM", "Basin <basin@localhost>")

# --- API tokens (django-rest-knox) -------------------------------------------------------------
# Basin's own token model: knox's, with a label and the password state it was made under. Each
# token's lifetime is the shortest `token_lifetime_days` of the owner's courses (none: no expiry),
# fixed when it is made (no auto-refresh); a new password, set by any path, revokes every token.
KNOX_TOKEN_MODEL = "accounts.ApiToken"
REST_KNOX = {
    "TOKEN_MODEL": KNOX_TOKEN_MODEL,
    "AUTH_HEADER_PREFIX": "Token",  # the header the CLI, the notebook and the docs send
    "TOKEN_TTL": None,  # set per token from the courses (basin.accounts.services.create_token)
    "AUTO_REFRESH": False,
}
# knox's own model is swapped out for that one, but its migrations would still make its table (an
# empty one that PostgreSQL's TRUNCATE of users then trips on): knox gets no migrations, no table.
MIGRATION_MODULES = {"knox": None}
# New tokens per account per hour (both ways of making one), and `basin login` tokens kept per
# account (a new one past that revokes the oldest: a login in a loop cannot pile up tokens).
BASIN_TOKENS_PER_ACCOUNT_PER_HOUR = env_int("BASIN_TOKENS_PER_ACCOUNT_PER_HOUR", 20, minimum=1)
BASIN_LOGIN_TOKENS_KEPT = env_int("BASIN_LOGIN_TOKENS_KEPT", 10, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "basin.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "basin.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON only: a browser's Accept header gets the same JSON (and error shape), not an HTML page.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "basin.negotiation.JsonWhateverTheAcceptHeader",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Basin API",
    "DESCRIPTION": "Homeworks, dataset downloads, submissions, final selections and leaderboards. Authenticate "
                   "with `Authorization: Token <key>` (POST /api/auth/token/, `basin login`, or a token made on a "
                   "homework page). Errors are "
                   '{"error": {"code", "message", "details"}}.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Grading --------------------------------------------------------------------------------
BASIN_DATASETS_DIR = DATA_DIR / "datasets"
BASIN_TOOLKIT_DIR = DATA_DIR / "toolkit"  # the student toolkit's wheels, built from the sources running (/simple/)
# Handed out on each homework's page with the site's address and the homework filled in.
BASIN_STARTER_NOTEBOOK = env_path("BASIN_STARTER_NOTEBOOK",
                                  Path(__file__).resolve().parents[2] / "starter_kit" / "starter.ipynb")
BASIN_WORK_DIR = env_path("BASIN_WORK_DIR", DATA_DIR / "work")  # per-attempt sandbox dirs
BASIN_SANDBOX_BACKEND = env_choice("BASIN_SANDBOX_BACKEND", "auto", ("auto", "docker", "process"))
BASIN_SANDBOX_IMAGE = env_str("BASIN_SANDBOX_IMAGE", "basin-sandbox:cpu")
BASIN_GPU = env_str("BASIN_GPU", "") or None  # the GPU id this grading worker owns
# Diagnostics of each scored submission: off, or the default budget of the device this worker
# grades on (basin_grader.budgets.DEFAULTS; a homework may override it).
BASIN_DIAGNOSTICS = env_choice("BASIN_DIAGNOSTICS", "gpu" if BASIN_GPU else "cpu", ("off", "cpu", "gpu"))
BASIN_MAX_ATTEMPTS = env_int("BASIN_MAX_ATTEMPTS", 3, minimum=1)  # infrastructure failures retried
# How long a claimed run is held before the watchdog may re-queue it (basin.leases). Short
# leases are allowed outside production, where tests wait out a killed worker's lease in seconds.
BASIN_LEASE_SECONDS = env_int("BASIN_LEASE_SECONDS", 900, minimum=60 if PRODUCTION else 10)
# Time kept free between a homework's time limit and the lease: copying, container start, scoring.
BASIN_LEASE_MARGIN_SECONDS = env_int("BASIN_LEASE_MARGIN_SECONDS", 60, minimum=10 if PRODUCTION else 5)
# Which Basin this is, so its watchdog touches only its own sandbox containers on a shared Docker
# engine. Production sets BASIN_INSTANCE alike on every machine; else one per data directory, made
# once by the first start (None: given).
BASIN_INSTANCE = env_str("BASIN_INSTANCE", "")
BASIN_OWN_INSTANCE_PATH = None if BASIN_INSTANCE else DATA_DIR / "instance_id"
BASIN_INSTANCE = BASIN_INSTANCE or local_files.read(BASIN_OWN_INSTANCE_PATH)
BASIN_WATCHDOG_SECONDS = env_int("BASIN_WATCHDOG_SECONDS", 60, minimum=1)
# A queued submission whose message is older than this is sent again (a lost message must not
# strand it; a duplicate is harmless: only one claim can win).
BASIN_RESEND_AFTER_SECONDS = env_int("BASIN_RESEND_AFTER_SECONDS", 600, minimum=30 if PRODUCTION else 5)

# --- Celery ---------------------------------------------------------------------------------
_broker_dir = DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":  # its folders are made at start
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {"data_folder_in": str(_broker_dir / "queue"),
                                       "data_folder_out": str(_broker_dir / "queue"),
                                       "control_folder": str(_broker_dir / "control"),  # else relative to cwd
                                       "store_processed": False}
else:  # Redis: redeliver only after the hard time limit, never while a grader still runs
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": BASIN_LEASE_SECONDS + 600,
                                       "queue_order_strategy": "priority"}
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Queues and task names are basin.dispatch's: each task is sent to its queue by name, no routes.
CELERY_TASK_DEFAULT_QUEUE = dispatch.UPKEEP
# The queues a worker takes, in order; one that runs no diagnostics (BASIN_DIAGNOSTICS=off) does not take theirs.
BASIN_WORKER_QUEUES = ",".join(queue for queue in dispatch.WORKER_QUEUES
                               if queue != dispatch.DIAGNOSTICS or BASIN_DIAGNOSTICS != "off")
CELERY_BEAT_SCHEDULE = {"watchdog": {"task": dispatch.WATCHDOG, "schedule": float(BASIN_WATCHDOG_SECONDS),
                                     "options": {"queue": dispatch.UPKEEP,
                                                 "expires": float(BASIN_WATCHDOG_SECONDS)}}}  # no pile-up
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Celery stops a task just before its lease ends, so a re-queued attempt never overlaps a live one;
# the soft limit (the task releases its claim) comes after the sandbox's own time limit, which ends
# BASIN_LEASE_MARGIN_SECONDS before the lease (basin.leases).
CELERY_TASK_SOFT_TIME_LIMIT = BASIN_LEASE_SECONDS - 3
CELERY_TASK_TIME_LIMIT = BASIN_LEASE_SECONDS - 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# text: plain lines. json: one JSON object a line (time, level, logger, message, exception,
# request_id / submission_id / task_id where known; basin.logs), from the web and, through the
# same config (basin/celery.py), the Celery worker.
BASIN_LOG_FORMAT = env_choice("BASIN_LOG_FORMAT", "text", ("text", "json"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "basin.logs.ContextFilter"}, "index_miss": {"()": "basin.logs.IndexMissFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
                   "json": {"()": "basin.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context", "index_miss"],
                             "formatter": "json" if BASIN_LOG_FORMAT == "json" else "plain"}},
    "root": {"handlers": ["console"], "level": env_str("BASIN_LOG_LEVEL", "INFO")},
    # runserver's request lines: through the same handler (Django's default gives them their own).
    "loggers": {"django.server": {"level": "WARNING", "handlers": ["console"], "propagate": False},
                # The embedded file broker has no host name, and kombu says so on every connection.
                "kombu.connection": {"level": "ERROR"},
                # django-axes: a line per locked-out or repeated failure, not per step of its bookkeeping.
                "axes": {"level": "WARNING"},
                # pypa/build, building the student toolkit (basin.toolkit): its steps are not news.
                "build": {"level": "WARNING"}},
}

if PRODUCTION:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("BASIN_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("BASIN_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
