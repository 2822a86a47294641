"""Signals of django-scim-portal.

``provisioning_event``
    Sent once for every :class:`~scim_portal.models.ProvisioningEvent`, after the
    transaction that wrote it commits (never for a change that was rolled back),
    in event-number order.

    Arguments:

    - ``sender``: the :class:`~scim_portal.models.ProvisioningEvent` class;
    - ``event``: the event (``type``, ``number``, ``connection_id``,
      ``account_id``, ``resource_type``, ``resource_id``, ``changes``, ``actor``,
      ``created_at``).

    Connect a receiver to react to every change, e.g. to notify or to sync another
    system::

        from django.dispatch import receiver
        from scim_portal.signals import provisioning_event

        @receiver(provisioning_event)
        def on_event(sender, event, **kwargs):
            if event.type == "user.deactivated":
                ...
"""

from django.dispatch import Signal

provisioning_event = Signal()
