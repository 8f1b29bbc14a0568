"""The API speaks JSON whatever the client's Accept header says: a browser's `text/html` gets the
JSON answer (and the JSON error shape), not a 406 that would hide the real status. Views with
several renderers (the OpenAPI schema's JSON and YAML) still choose among them as DRF does."""
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class JsonWhateverTheAcceptHeader(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            if format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE):
                raise  # an explicit ?format= the view lacks: say so
            return renderers[0], renderers[0].media_type
