"""The registry of indexed columns is what filters, sorting and the directory writer use:
an attribute registered there is compared, sorted and written through its column."""

import pytest
from scim2_models import ScimFilter

from scim_portal.models.indexed import ColumnType
from scim_portal.provisioning.documents import columns
from scim_portal.scim.resources import GROUPS, USERS
from scim_portal.scim.targets import ColumnTarget, IdTarget

REGISTERED = [
    (kind, attribute) for kind in (USERS, GROUPS) for attribute in kind.columns
]  # fmt: skip


@pytest.mark.parametrize(("kind", "attribute"), REGISTERED, ids=lambda v: getattr(v, "path", None))
def test_every_registered_attribute_names_a_field_of_its_model(kind, attribute):
    assert kind.columns.model is kind.model_class
    kind.model_class._meta.get_field(attribute.field)
    if attribute.folded_key:
        assert kind.model_class._meta.get_field(attribute.folded_key).source == attribute.field


@pytest.mark.parametrize(("kind", "attribute"), REGISTERED, ids=lambda v: getattr(v, "path", None))
def test_filters_and_sorting_use_the_column(kind, attribute):
    if not attribute.searchable:
        return
    builder = kind.query_builder()
    for spelled in (attribute.path, attribute.path.upper()):
        target = builder.target(ScimFilter(f"{spelled} pr").ast.attr_path)
        assert isinstance(target, ColumnTarget) and target.attribute is attribute
        assert isinstance(target, IdTarget) == (attribute.type is ColumnType.ID)
    ordered = str(builder.order_by(attribute.path, descending=False)[0])
    assert f"F({attribute.folded_key or attribute.field})" in ordered


def test_the_writer_derives_every_written_column_from_the_document():
    document = {
        "userName": "Ada@Example.com",
        "externalId": "e-1",
        "displayName": "Ada",
        "emails": [{"value": "a@example.com"}, {"value": "ada@example.com", "primary": True}],
        "active": False,
    }
    assert columns(USERS.columns, document) == {
        "user_name": "Ada@Example.com",
        "external_id": "e-1",
        "display_name": "Ada",
        "email": "ada@example.com",
        "active": False,
    }
    assert [a.field for a in USERS.columns if a.written] == list(columns(USERS.columns, document))
    assert columns(GROUPS.columns, {"displayName": "Eng"}) == {
        "display_name": "Eng",
        "external_id": None,
    }
    # Absent: NULL where the field takes it, else "" (or None for a non-boolean active).
    assert columns(USERS.columns, {"userName": "x", "active": "yes"}) == {
        "user_name": "x", "external_id": None, "display_name": "", "email": "", "active": None,
    }  # fmt: skip
