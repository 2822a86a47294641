"""SCIM 2.0 provisioning for multi-tenant Django applications."""

__version__ = "0.1.0.dev0"
