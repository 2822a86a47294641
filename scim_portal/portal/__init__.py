"""The Provisioning tab: tenant admins manage their account's SCIM connections."""
