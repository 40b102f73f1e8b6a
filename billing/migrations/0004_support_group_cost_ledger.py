"""Support staff see the cost ledger and cap overrides; changing a cap is not theirs."""

from django.db import migrations

from accounts.permissions import SUPPORT_GROUP, group_permissions_grant, group_permissions_revoke

CODENAMES = ["view_costwindow", "view_costreservation", "view_costcapoverride"]


def grant(apps, schema_editor):
    group_permissions_grant(apps, group=SUPPORT_GROUP, app_label="billing", codenames=CODENAMES)


def revoke(apps, schema_editor):
    group_permissions_revoke(apps, group=SUPPORT_GROUP, app_label="billing", codenames=CODENAMES)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_cost_ledger"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
