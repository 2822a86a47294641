"""A small host for the test suite, unlike the example project on purpose: the
tenant is called Organization and is looked up by ``handle``."""

from django.db import models


class Organization(models.Model):
    handle = models.SlugField(unique=True)
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name
