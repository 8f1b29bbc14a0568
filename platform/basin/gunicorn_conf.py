"""gunicorn's settings for Basin's web service: `gunicorn -c python:basin.gunicorn_conf basin.wsgi`
(deploy/platform/entrypoint.sh, bench/leaderboard_load.py, tests/e2e/test_slow_clients.py).
Command-line flags given after `-c` win over these.

Threaded workers (gthread): a client that sends its request slowly holds one thread, not a whole
worker, so a few slow clients cannot starve /health/ and everyone else as they did with two sync
workers. Threads are still finite: nginx in front buffers every request body (deploy/README.md,
`proxy_request_buffering on`) and is what stands between gunicorn and the internet's slow clients.
Each thread holds its own database connection: workers × threads must stay below PostgreSQL's
max_connections, with the Celery workers' connections besides.
"""
from basin.env import env_int

worker_class = "gthread"
workers = env_int("BASIN_WEB_WORKERS", 4, minimum=1)
threads = env_int("BASIN_WEB_THREADS", 8, minimum=1)
timeout = 120  # a worker whose main loop is silent this long is restarted (threads keep it alive)
keepalive = 5  # seconds an idle kept-alive connection may wait for its next request
