"""GET /health/: the web process answers and reaches its database (for a load balancer or a
compose healthcheck). Plain text, no session, no template: also the trivial view the load
benchmark compares the leaderboard against."""
from django.db import connection
from django.http import HttpResponse
from django.views.decorators.cache import never_cache


@never_cache
def health(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # a broken database is what this endpoint reports, not a 500 page
        return HttpResponse("database unreachable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")
