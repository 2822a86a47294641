"""Readers of other SCIM service providers' directories, for an import
(:mod:`scim_portal.provisioning.imports` writes what they read)."""
