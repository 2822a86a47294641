"""gunicorn settings of the production profile (``make serve``; docs/deployment.md).

    gunicorn -c example_project/gunicorn.conf.py example_project.wsgi:application

Every value can be changed through the environment; command-line flags win over it.
"""

import multiprocessing
import os

# 127.0.0.1:$PORT by default; BIND=0.0.0.0:8000 to accept a load balancer on another
# machine (gunicorn alone would bind 0.0.0.0 whenever PORT is set).
bind = [os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"]

# Synchronous workers: a SCIM request is a few short database transactions. Two per
# core plus one, capped so that a big machine does not exhaust PostgreSQL's connections
# (each worker holds one with CONN_MAX_AGE).
workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * multiprocessing.cpu_count() + 1, 12))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))  # > 1 switches to gthread workers

# A worker silent for this long is killed and replaced (a stuck request answers 502).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Kept-alive connections (gthread workers only): longer than the load balancer's idle timeout.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
# Recycle workers now and then, spread out, so that no leak grows for ever.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10

# A SCIM filter may be MAX_FILTER_LENGTH (4096) characters; percent-encoded in the query
# string it can take three times that in the worst case, but IdPs send far less. 8190 is
# gunicorn's largest request line: a longer one is refused with 414 before Django sees it.
limit_request_line = 8190
limit_request_field_size = 8190

# The proxies allowed to say a request came over HTTPS (X-Forwarded-Proto): the
# load balancer's addresses, comma-separated.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Both logs on stdout; the access log with the time, the duration and the request id
# the app returns in X-Request-ID (the same id as in the app's own log lines).
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(t)s %(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s "%(a)s"'

# gunicorn 24+ opens a control socket in ~/.gunicorn; several instances on one machine
# (two nodes in the tests, a blue/green switch) would share it. GUNICORN_CONTROL_SOCKET=1
# turns it back on.
control_socket_disable = os.environ.get("GUNICORN_CONTROL_SOCKET", "") != "1"
