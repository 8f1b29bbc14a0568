"""Responses to a logged-in viewer are theirs alone: `Cache-Control: private` keeps them out of
every shared cache (a proxy, a CDN), and `no-store` keeps pages and API answers, which show their
submissions, scores and logs, off the disk of the browser too. A file download (a dataset file,
the starter notebook) is `private` only, so a browser may keep it and resume it.

A request counts as personal when its viewer is logged in (a session or a token), when it sends an
Authorization header even if refused, or when the answer sets a cookie: what it got back may still
say who it is."""
from django.http import FileResponse, StreamingHttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers


def is_personal(request, response) -> bool:
    user = getattr(request, "user", None)  # DRF's token authentication sets it on the request too
    return bool((user is not None and user.is_authenticated) or request.headers.get("Authorization")
                or response.cookies)


class PrivateCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if is_personal(request, response):
            download = isinstance(response, FileResponse | StreamingHttpResponse)
            patch_cache_control(response, private=True, **({} if download else {"no_store": True}))  # drops public
        if request.headers.get("Authorization"):
            patch_vary_headers(response, ["Authorization"])
        return response
