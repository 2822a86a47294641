"""The Domains page of the Provisioning tab: the account's verified email domains.

Reading needs ``read`` provisioning; adding a domain and checking its TXT record
``create``; removing one ``delete``. Writes go through the domain services.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext

from .. import permissions
from .._sentences import in_language
from ..models import AccountDomain, ProvisioningEvent
from ..provisioning.domains import add_domain, remove_domain, verify_domain
from ..provisioning.exceptions import DomainError
from .forms import AddDomainForm
from .views import PortalView

#: Account events shown under the domains.
HISTORY_SIZE = 10


class DomainView(PortalView):
    """Base: the domain in the URL, of this page's account (404 otherwise)."""

    def get_domain(self, domain_id: int) -> AccountDomain:
        try:
            return AccountDomain.objects.get(account=self.account, pk=domain_id)
        except AccountDomain.DoesNotExist:
            raise Http404("No such domain.") from None


class DomainListView(DomainView):
    template_name = "scim_portal/portal/domains.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(**self.page(AddDomainForm()))

    def post(self, request: HttpRequest) -> HttpResponse:
        self.require(permissions.CREATE)
        form = AddDomainForm(request.POST)
        if form.is_valid():
            try:
                domain = add_domain(self.account, form.cleaned_data["domain"], actor=self.actor)
            except DomainError as exc:
                form.add_error("domain", in_language(str(exc)))
            else:
                messages.success(
                    request,
                    # Translators: "Verify" is the button of the Domains page.
                    gettext("Added %(domain)s. Publish its TXT record, then choose Verify.")
                    % {"domain": domain.unicode_domain},
                )
                return HttpResponseRedirect(self.url("domains"))
        return self.render(status=400, **self.page(form))

    def page(self, form: AddDomainForm) -> dict[str, Any]:
        events = ProvisioningEvent.objects.filter(
            account_id=self.account.pk, connection__isnull=True
        ).order_by("-created_at", "-id")
        return {
            "domains": AccountDomain.objects.filter(account=self.account).select_related(
                "verified_by"
            ),
            "form": form,
            "events": events[:HISTORY_SIZE],
        }


class DomainVerifyView(DomainView):
    def post(self, request: HttpRequest, domain_id: int) -> HttpResponse:
        self.require(permissions.CREATE)
        domain = self.get_domain(domain_id)
        try:
            verified = verify_domain(domain, actor=self.actor)
        except DomainError as exc:  # removed meanwhile
            messages.error(request, in_language(str(exc)))
        else:
            if verified:
                text = gettext("%(domain)s is verified.") % {"domain": domain.unicode_domain}
            else:
                # Translators: the reason is a sentence of the DNS check, translated too.
                text = gettext("%(domain)s is not verified yet: %(reason)s") % {
                    "domain": domain.unicode_domain,
                    "reason": in_language(domain.last_check_error),
                }
            messages.add_message(request, messages.SUCCESS if verified else messages.ERROR, text)
        return HttpResponseRedirect(self.url("domains"))


class DomainRemoveView(DomainView):
    permission = permissions.DELETE
    template_name = "scim_portal/portal/domain_remove.html"

    def get(self, request: HttpRequest, domain_id: int) -> HttpResponse:
        return self.render(domain=self.get_domain(domain_id))

    def post(self, request: HttpRequest, domain_id: int) -> HttpResponse:
        self.require(permissions.DELETE)
        domain = self.get_domain(domain_id)
        remove_domain(domain, actor=self.actor)
        messages.success(
            request, gettext("Removed %(domain)s.") % {"domain": domain.unicode_domain}
        )
        return HttpResponseRedirect(self.url("domains"))
