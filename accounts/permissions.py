"""Staff groups and their permissions, granted from data migrations."""

from django.contrib.auth.management import create_permissions

# Support: sees jobs and billing, retries and cancels jobs. Billing: sees billing, sets
# customers' cost caps and handles failed Stripe events again (plans change in Stripe).
SUPPORT_GROUP = "Support"
BILLING_GROUP = "Billing"


def group_permissions_grant(apps, *, group: str, app_label: str, codenames: list[str]) -> None:
    """Give ``group`` (created if missing) these permissions of ``app_label``.

    Permissions are normally created after all migrations run; this creates the app's
    now, so a fresh database gets them in the same ``migrate``.
    """
    app_config = apps.get_app_config(app_label)
    previous = getattr(app_config, "models_module", None)
    # create_permissions skips app configs without a models module, as historical ones are.
    app_config.models_module = previous or True
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = previous
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    staff_group, _ = Group.objects.get_or_create(name=group)
    staff_group.permissions.add(
        *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
    )


def group_permissions_revoke(apps, *, group: str, app_label: str, codenames: list[str]) -> None:
    Group = apps.get_model("auth", "Group")
    staff_group = Group.objects.filter(name=group).first()
    if staff_group is not None:
        staff_group.permissions.remove(*staff_group.permissions.filter(
            content_type__app_label=app_label, codename__in=codenames))
