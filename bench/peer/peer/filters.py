"""django-scim2's user filter with emails mapped, the way its settings let a deployer
(``USER_FILTER_PARSER``): without it ``emails[type eq "work"].value eq "…"`` finds nobody."""

from django_scim.filters import UserFilterQuery as BaseUserFilterQuery


class UserFilterQuery(BaseUserFilterQuery):
    attr_map = {**BaseUserFilterQuery.attr_map, ("emails", "value", None): "email"}
