import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Upper
from django_scim.models import AbstractSCIMGroupMixin, AbstractSCIMUserMixin


class Group(AbstractSCIMGroupMixin):
    name = models.CharField(max_length=150, unique=True)


class User(AbstractSCIMUserMixin, AbstractUser):
    memberships = models.ManyToManyField(Group, related_name="user_set", blank=True)

    class Meta(AbstractUser.Meta):
        # What a deployer adds once lookups scan the table: django-scim2 filters userName
        # as UPPER(username) = UPPER(…) and emails (peer/filters.py) as email = ….
        indexes = [
            models.Index(Upper("username"), name="peer_user_username_upper"),
            models.Index(fields=["email"], name="peer_user_email"),
        ]

    @property
    def scim_groups(self):
        return self.memberships


class Token(models.Model):
    """A bearer token, stored as a SHA-256 digest like django-scim-portal's."""

    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE)

    @staticmethod
    def digest_of(raw):
        return hashlib.sha256(raw.encode()).hexdigest()
