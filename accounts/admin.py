from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.template.response import TemplateResponse

from billing.grants import MAX_GRANT_DAYS, plan_grant
from billing.plans import PLANS
from config.errors import ApplicationError

from . import services
from .forms import AdminLoginForm
from .models import ApiKey, User

# Staff log in through the same rate limits as customers (see AdminLoginForm).
admin.site.login_form = AdminLoginForm


class GrantPlanForm(forms.Form):
    plan = forms.ChoiceField(choices=[(code, plan.name) for code, plan in PLANS.items()
                                      if plan.is_paid])
    days = forms.IntegerField(min_value=1, max_value=MAX_GRANT_DAYS, initial=30)
    reason = forms.CharField(max_length=200, required=False,
                             help_text="Kept in the audit trail.")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    readonly_fields = ["last_login", "date_joined"]
    actions = ["grant_plan"]

    def has_grant_plan_permission(self, request):
        # Changing what a customer may use is billing's permission, not support's.
        return request.user.has_perm("billing.change_subscription")

    @admin.action(description="Give a plan for a period (no Stripe)",
                  permissions=["grant_plan"])
    def grant_plan(self, request, queryset):
        form = GrantPlanForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for user in queryset:
                try:
                    grant = plan_grant(user=user, plan_code=form.cleaned_data["plan"],
                                       days=form.cleaned_data["days"], actor=request.user,
                                       reason=form.cleaned_data["reason"])
                except ApplicationError as exc:
                    self.message_user(request, f"{user.email}: {exc.message}", messages.ERROR)
                    continue
                self.log_change(request, user, f"Given {grant.plan_code} until "
                                f"{grant.current_period_end:%Y-%m-%d}")
                self.message_user(request, f"{user.email} has {grant.get_plan_code_display()} "
                                  f"until {grant.current_period_end:%Y-%m-%d %H:%M} UTC.")
            return None
        return TemplateResponse(request, "admin/accounts/user/grant_plan.html", {
            **self.admin_site.each_context(request),
            "title": "Give a plan for a period",
            "form": form,
            "users": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        })


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "scopes", "created_at", "last_used_at",
                    "revoked_at"]
    search_fields = ["prefix", "name", "user__email"]
    exclude = ["key_hash"]
    readonly_fields = ["user", "prefix", "name", "scopes", "created_at", "last_used_at",
                       "expires_at", "revoked_at"]
    actions = ["revoke_keys"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_keys(self, request, queryset):
        # Through the service, so each revocation leaves one audit row naming who did it.
        for key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(key=key, actor=request.user)
            self.log_change(request, key, "Revoked from the admin")
