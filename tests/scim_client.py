"""A SCIM client over Django's test client, and the recorded IdP payloads."""

import base64
import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_fixture(name: str, **values):
    """A recorded IdP payload with ``{{name}}`` placeholders filled (a fresh copy)."""
    text = (FIXTURES / name).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", str(value))
    assert "{{" not in text, f"unfilled placeholder in {name}"
    return json.loads(text)


def basic_auth(user, password):
    """An ``Authorization`` header value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def encode(body):
    if body is None or isinstance(body, str | bytes):
        return body or ""
    return json.dumps(body)


class ScimClient:
    """The Django test client speaking SCIM to one connection with its token."""

    def __init__(self, client, connection, token):
        self.client = client
        self.connection = connection
        self.token = token
        self.base = f"/scim/v2/{connection.id}"

    def _call(self, method, path, body=None, *, headers=None, content_type="application/scim+json",
              **params):  # fmt: skip
        extra = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}
        for name, value in (headers or {}).items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        url = self.base + path
        if method == "get":
            return self.client.get(url, params, **extra)
        if params:
            from urllib.parse import urlencode

            url += "?" + urlencode(params)
        data = encode(body)
        return getattr(self.client, method)(url, data=data, content_type=content_type, **extra)

    def get(self, path, **kwargs):
        return self._call("get", path, **kwargs)

    def post(self, path, body, **kwargs):
        return self._call("post", path, body, **kwargs)

    def put(self, path, body, **kwargs):
        return self._call("put", path, body, **kwargs)

    def patch(self, path, body, **kwargs):
        return self._call("patch", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self._call("delete", path, **kwargs)

    # Conveniences

    def create_user(self, user_name, **attributes):
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name}
        body.update(attributes)
        response = self.post("/Users", body)
        assert response.status_code == 201, response.content
        return response.json()

    def create_group(self, display_name, members=()):
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": display_name,
            "members": [{"value": member} for member in members],
        }
        response = self.post("/Groups", body)
        assert response.status_code == 201, response.content
        return response.json()

    def patch_ops(self, path, *operations, **kwargs):
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": list(operations)}  # fmt: skip
        return self.patch(path, body, **kwargs)
