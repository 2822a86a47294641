"""factory_boy factories for the test suite."""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from scim_portal.models import AccountDomain, Connection, DirectoryGroup, DirectoryUser
from tests.testapp.models import Organization


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    handle = factory.Sequence(lambda n: f"org-{n}")
    name = factory.LazyAttribute(lambda o: o.handle.title())


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("password")


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection

    account = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Connection {n}")
    provider = "okta"


class DirectoryUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DirectoryUser

    connection = factory.SubFactory(ConnectionFactory)
    user_name = factory.Sequence(lambda n: f"person{n}@example.com")
    email = factory.LazyAttribute(lambda o: o.user_name)


class DirectoryGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DirectoryGroup

    connection = factory.SubFactory(ConnectionFactory)
    display_name = factory.Sequence(lambda n: f"Group {n}")


class VerifiedDomainFactory(factory.django.DjangoModelFactory):
    """A domain verified for an account (as vendor staff would mark it)."""

    class Meta:
        model = AccountDomain

    account = factory.SubFactory(OrganizationFactory)
    domain = "example.com"
    verification_token = factory.LazyFunction(AccountDomain.generate_token)
    verified_at = factory.LazyFunction(timezone.now)
    verification_method = "staff"
