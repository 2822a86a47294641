"""Settings of the processes tests/delivery/test_rq.py starts (``rqworker`` and
``scim_portal worker --beat-only``): the worker settings, with the app's tasks on RQ
(django-tasks-rq) over the test's redis-server (REDIS_URL), which is Django's cache too."""

import os

from tests.worker_settings import *  # noqa: F403
from tests.worker_settings import INSTALLED_APPS

REDIS_URL = os.environ["REDIS_URL"]

INSTALLED_APPS = [*INSTALLED_APPS, "django_rq"]
RQ_QUEUES = {"default": {"URL": REDIS_URL}}
# What rqworker runs: django-tasks-rq's job class calls the task, not the Task object.
RQ = {"JOB_CLASS": "django_tasks_rq.Job"}
TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
