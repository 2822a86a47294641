from .models import Token


class BearerTokenMiddleware:
    """Authenticate ``Authorization: Bearer <token>`` (one indexed lookup)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header.lower().startswith("bearer "):
            token = (
                Token.objects.select_related("user")
                .filter(digest=Token.digest_of(header[7:].strip()))
                .first()
            )
            if token is not None:
                request.user = token.user
        if not hasattr(request, "user"):
            from django.contrib.auth.models import AnonymousUser

            request.user = AnonymousUser()
        return self.get_response(request)
