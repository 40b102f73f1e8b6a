"""Support staff see billing (accounts, subscriptions, webhook events, usage), change none of it.

The "Support" group is created if missing; only view permissions are added to it.
Reprocessing failed webhook events stays a separate permission given by hand.
"""

from django.db import migrations

from accounts.permissions import SUPPORT_GROUP, group_permissions_grant, group_permissions_revoke

MODELS = ["billingaccount", "subscription", "subscriptionchange", "webhookevent", "usagerecord",
          "overagereport"]
# "webhookevent" is "stripeevent" since 0005; both are named so the grant also works when
# run against today's models (tests re-run it after a transactional test flushed the rows).
CODENAMES = [f"view_{m}" for m in MODELS] + ["view_stripeevent"]


def grant_view(apps, schema_editor):
    group_permissions_grant(apps, group=SUPPORT_GROUP, app_label="billing", codenames=CODENAMES)


def revoke_view(apps, schema_editor):
    group_permissions_revoke(apps, group=SUPPORT_GROUP, app_label="billing", codenames=CODENAMES)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant_view, revoke_view)]
