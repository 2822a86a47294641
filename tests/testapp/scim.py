"""A host-declared SCIM extension, as a host would write one with scim2-models."""

from typing import Annotated

from scim2_models import URN, Extension, Required


class BadgeExtension(Extension):
    __schema__ = URN("urn:example:params:scim:schemas:extension:badge:2.0:User")

    badge_number: Annotated[str | None, Required.false] = None
    floor: Annotated[int | None, Required.false] = None
