#!/bin/sh
# One image, several roles (deploy/compose.yaml):
#   web          migrate, publish the static files to the proxy's volume, build the student toolkit
#                (/simple/), serve with gunicorn
#   worker ...   a Celery worker; the arguments after "worker" are celery's (-Q, -n, --concurrency)
#   beat         Celery beat: runs the watchdog on schedule
#   manage ...   any manage.py command (createsuperuser, import_roster, register_dataset, grading_status)
#   health       the web container's healthcheck: GET /health/ as the proxy sends it (an allowed
#                host, X-Forwarded-Proto https), so production's host check and HTTPS redirect pass
set -eu
role=${1:-web}
[ $# -gt 0 ] && shift
case "$role" in
  web)
    [ "${BASIN_MIGRATE:-1}" = 1 ] && django-admin migrate --noinput
    django-admin collectstatic --noinput >/dev/null
    django-admin build_toolkit  # the student toolkit at /simple/, from the sources this image runs
    # Threaded workers, BASIN_WEB_WORKERS × BASIN_WEB_THREADS (basin/gunicorn_conf.py): a slow client
    # holds a thread, not a worker. nginx's request buffering in front is still required.
    exec gunicorn -c python:basin.gunicorn_conf basin.wsgi --bind "0.0.0.0:${BASIN_WEB_PORT:-8000}" \
      --forwarded-allow-ips "${BASIN_FORWARDED_ALLOW_IPS:-*}" --access-logfile - ;;
  worker) exec celery -A basin worker "$@" ;;
  beat) exec celery -A basin beat --schedule "${BASIN_DATA_DIR:-/var/lib/basin}/celerybeat-schedule" "$@" ;;
  manage) exec django-admin "$@" ;;
  health) exec python3 -c 'import os, urllib.request as u
host = (os.environ.get("BASIN_ALLOWED_HOSTS") or "localhost").split(",")[0].strip().lstrip(".")
request = u.Request("http://127.0.0.1:%s/health/" % os.environ.get("BASIN_WEB_PORT", "8000"),
                    headers={"Host": host, "X-Forwarded-Proto": "https"})
u.urlopen(request, timeout=5)' ;;
  *) exec "$role" "$@" ;;
esac
