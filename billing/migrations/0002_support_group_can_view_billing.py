"""Support staff see billing (accounts, subscriptions, webhook events, usage), change none of it.

The "Support" group is created if missing; only view permissions are added to it.
Reprocessing failed webhook events stays a separate permission given by hand.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ["billingaccount", "subscription", "subscriptionchange", "webhookevent", "usagerecord",
          "overagereport"]


def grant_view(apps, schema_editor):
    # Permissions are normally created after all migrations; create billing's now.
    app_config = apps.get_app_config("billing")
    previous = getattr(app_config, "models_module", None)
    # create_permissions skips app configs without a models module, as historical ones are.
    app_config.models_module = previous or True
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = previous
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Support")
    perms = Permission.objects.filter(
        content_type__app_label="billing", codename__in=[f"view_{m}" for m in MODELS]
    )
    group.permissions.add(*perms)


def revoke_view(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name="Support").first()
    if group is not None:
        group.permissions.remove(
            *group.permissions.filter(content_type__app_label="billing")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant_view, revoke_view)]
