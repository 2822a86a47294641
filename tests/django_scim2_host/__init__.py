"""A django-scim2 host (the benchmark's peer, bench/peer/) with django-scim-portal added, as a
host migrating from django-scim2 runs them side by side. Its tests run in a process of their
own (tests/test_import_django_scim2.py): the host's user model is the peer's."""
