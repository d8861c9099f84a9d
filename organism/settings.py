"""Settings for both runtimes, read from the environment.

Embedded (default, nothing configured): SQLite, in-process channel layer and an
in-memory Celery broker; `manage.py organism_run` serves web, worker and beat
from one process. Distributed: DATABASE_URL (PostgreSQL) and REDIS_URL (Celery
broker and results, cache, channels-redis layer) switch every backend; the code
is the same.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from organism.env import env_bool, env_int, env_list, env_path, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
STATE_DIR = env_path("ORGANISM_STATE_DIR", BASE_DIR / "var")
assert STATE_DIR is not None

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    # Embedded/dev: a per-checkout key kept out of git, created on first use.
    key_file = STATE_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        STATE_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 32 characters")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "organism",
    "trading",
    "backtests",
    "evolution",
    "patterns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "organism.middleware.LoginRequiredEverywhere",
]

ROOT_URLCONF = "organism.urls"
ASGI_APPLICATION = "organism.asgi.application"
WSGI_APPLICATION = "organism.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "organism.navigation.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql", "sqlite"))
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"].setdefault("TEST", {})["NAME"] = env_str(
            "DATABASE_TEST_NAME", "test_" + DATABASES["default"]["NAME"]
        )
else:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": STATE_DIR / "organism.sqlite3",
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DATABASE_IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channels, celery ---------------------------------------
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss"))
EMBEDDED = REDIS_URL is None

# Redis pub/sub is global to the server, so parallel test workers (and several
# deployments sharing one Redis) keep their groups apart with a prefix.
CHANNEL_PREFIX = env_str("ORGANISM_CHANNEL_PREFIX", "organism") + env_str("PYTEST_XDIST_WORKER")

# With Redis: "pubsub" (default, lowest latency) or "core" (channels-redis's list-based
# layer, kept selectable as the baseline that bench/realtime.py measures against).
REDIS_CHANNEL_LAYERS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}
CHANNEL_LAYER_KIND = env_str("ORGANISM_CHANNEL_LAYER", "pubsub")
if CHANNEL_LAYER_KIND not in REDIS_CHANNEL_LAYERS:
    raise ImproperlyConfigured(
        f"ORGANISM_CHANNEL_LAYER={CHANNEL_LAYER_KIND!r}: use one of {', '.join(REDIS_CHANNEL_LAYERS)}"
    )

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": CHANNEL_PREFIX}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": REDIS_CHANNEL_LAYERS[CHANNEL_LAYER_KIND],
            "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNEL_PREFIX},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"

CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600, minimum=10)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
ORGANISM_QUEUES = ("trading", "backtests", "evolution", "default")
# Each app's tasks go to its own queue, except light housekeeping on `default`
# (exact names are matched before patterns).
CELERY_TASK_ROUTES = {
    "trading.candles_sync": {"queue": "default"},
    "backtests.recover": {"queue": "default"},
    "trading.*": {"queue": "trading"},
    "backtests.*": {"queue": "backtests"},
    "evolution.*": {"queue": "evolution"},
}

# --- Auth -------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- i18n / time --------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Static -------------------------------------------------------------------
STATIC_URL = "/static/"
def _plotly_js_dir() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data"


# plotly.js is served from the plotly package's own bundle (same version as the
# Python library), under /static/vendor/plotly/plotly.min.js. No CDN.
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/plotly", _plotly_js_dir())]
STATIC_ROOT = STATE_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Organism -------------------------------------------------------------------
ORGANISM_DATA_DIR = env_path("ORGANISM_DATA_DIR")
ORGANISM_LIVE_TRADING = env_bool("ORGANISM_LIVE_TRADING", False)
# Fernet keys for exchange credentials, comma-separated, newest first (MultiFernet: old keys
# still decrypt, so keys rotate without downtime). Empty (embedded/dev): one key derived
# from SECRET_KEY with HKDF (see trading/credentials.py).
ORGANISM_FERNET_KEYS = env_list("ORGANISM_FERNET_KEYS", [])
ORGANISM_EXCHANGE_URLS = env_str("ORGANISM_EXCHANGE_URLS")  # tests: point ccxt at a local server
ORGANISM_CCXT_TIMEOUT_MS = env_int("ORGANISM_CCXT_TIMEOUT_MS", 10_000, minimum=100)
ORGANISM_CHART_MAX_POINTS = env_int("ORGANISM_CHART_MAX_POINTS", 5_000, minimum=100)
# Price ticks reach the dashboard at most once per group and symbol per interval (the latest).
ORGANISM_TICK_INTERVAL_MS = env_int("ORGANISM_TICK_INTERVAL_MS", 200, minimum=10)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("ORGANISM_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": "WARNING"},
        "ccxt": {"level": "WARNING"},
    },
}
