"""Events out of the process: webhook endpoints, ordered delivery, SETs, notifications.

Service functions for the faces (admin, API, command line, portal) are in
:mod:`.endpoints`; the delivery itself in :mod:`.engine`; the tasks in :mod:`.tasks`.
"""
