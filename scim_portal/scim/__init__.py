"""The SCIM 2.0 protocol layer: what identity providers call."""
