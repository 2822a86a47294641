"""Property: a filter selects in the database exactly the users that scim2-models'
own in-memory evaluation (``ScimFilter.match``) selects, over random directories."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scim2_models import ScimFilter

from scim_portal.models import DirectoryUser
from scim_portal.provisioning import create_connection, directory
from scim_portal.scim import schema
from scim_portal.scim.filters import QueryBuilder
from scim_portal.scim.resources import USERS
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
WORDS = ["ann", "Ann", "bob", "BOB", "carl", "cara", "dan", "ed", "x1", "zed"]

word = st.sampled_from(WORDS)


def maybe(strategy):
    return st.none() | strategy


email = st.builds(
    lambda local, kind, primary: {"value": f"{local}@x.com", "type": kind, "primary": primary},
    word, st.sampled_from(["work", "home"]), st.booleans(),
)  # fmt: skip

user = st.fixed_dictionaries(
    {},
    optional={
        "displayName": word,
        "title": word,
        "active": st.booleans(),
        "nickName": word,
        "name": st.fixed_dictionaries({}, optional={"givenName": word, "familyName": word}),
        "emails": st.lists(email, min_size=1, max_size=2),
        ENTERPRISE: st.fixed_dictionaries(
            {}, optional={"employeeNumber": word, "department": word}
        ),
    },
)

STRING_PATHS = ["userName", "displayName", "title", "nickName", "name.givenName",
                "name.familyName", "emails.type", f"{ENTERPRISE}:employeeNumber",
                f"{ENTERPRISE}:department"]  # fmt: skip
EMAIL_PATHS = ["emails.value", "emails"]
STRING_OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
SUBSTRING_OPS = ["co", "sw", "ew"]


def quoted(value: str) -> str:
    return '"' + value + '"'


# scim2-models checks that a whole email compared with eq/gt/… is an email address.
email_comparison = st.one_of(
    st.builds(
        lambda p, o, v: f"{p} {o} {quoted(v)}",
        st.sampled_from(EMAIL_PATHS),
        st.sampled_from(SUBSTRING_OPS),
        word | st.sampled_from(["a", "@x.com"]),
    ),
    st.builds(
        lambda p, o, v: f"{p} {o} {quoted(v + '@x.com')}",
        st.sampled_from(EMAIL_PATHS),
        st.sampled_from([o for o in STRING_OPS if o not in SUBSTRING_OPS]),
        word,
    ),
)

comparison = st.one_of(
    email_comparison,
    st.builds(lambda p, o, v: f"{p} {o} {quoted(v)}", st.sampled_from(STRING_PATHS),
              st.sampled_from(STRING_OPS), word | st.sampled_from(["a", "n", "@x.com"])),
    st.builds(lambda p: f"{p} pr", st.sampled_from([*STRING_PATHS, "active", "name", "emails"])),
    st.builds(lambda o, v: f"active {o} {v}", st.sampled_from(["eq", "ne"]),
              st.sampled_from(["true", "false"])),
    st.builds(lambda o, v: f"emails.primary {o} {v}", st.sampled_from(["eq", "ne"]),
              st.sampled_from(["true", "false"])),
)  # fmt: skip

inner = st.one_of(
    st.builds(lambda o, v: f"type {o} {quoted(v)}", st.sampled_from(["eq", "ne", "sw"]),
              st.sampled_from(["work", "home", "WORK"])),
    st.builds(lambda o, v: f"value {o} {quoted(v)}", st.sampled_from(SUBSTRING_OPS), word),
    st.builds(lambda v: f"value eq {quoted(v + '@x.com')}", word),
    st.just("primary eq true"),
)  # fmt: skip

value_path = st.builds(
    lambda a, b, op: f"emails[{a}]" if b is None else f"emails[{a} {op} {b}]",
    inner, maybe(inner), st.sampled_from(["and", "or"]),
)  # fmt: skip


def combine(children):
    return st.one_of(
        st.builds(lambda a, b: f"({a}) and ({b})", children, children),
        st.builds(lambda a, b: f"({a}) or ({b})", children, children),
        st.builds(lambda a: f"not ({a})", children),
    )


filters = st.recursive(comparison | value_path, combine, max_leaves=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(users=st.lists(user, min_size=1, max_size=6), expressions=st.lists(filters, max_size=4))
def test_database_filter_equals_in_memory_evaluation(django_db_blocker, users, expressions):
    with django_db_blocker.unblock():
        connection, _ = create_connection(account=OrganizationFactory(), name="P", provider="okta")
        model = schema.user_model()
        stored = []
        for index, attributes in enumerate(users):
            document = {"userName": f"user{index}{WORDS[index % len(WORDS)]}", **attributes}
            # Stored exactly as a SCIM POST stores it.
            stored.append(directory.create_user(connection, USERS.parse(document)))
        builder = QueryBuilder(USERS.columns, USERS.membership, model, item_rows=True)
        for expression in expressions:
            bound = ScimFilter[model](expression)
            expected = {
                str(u.pk) for u in stored if bound.match(model.model_validate(u.attributes))
            }
            query = builder.build(expression)
            rows = DirectoryUser.objects.filter(connection=connection).filter(query)
            actual = {str(pk) for pk in rows.values_list("pk", flat=True)}
            assert actual == expected, (expression, [u.attributes for u in stored])
        connection.delete()
