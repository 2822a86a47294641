"""OAuth 2.0 for SCIM connections: the token endpoint, the authorisation page and
federated issuers (docs/scim-authentication.md)."""
