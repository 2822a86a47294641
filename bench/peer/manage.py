#!/usr/bin/env python
"""The benchmark's peer: django-scim2 in a small project on the same PostgreSQL server."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
