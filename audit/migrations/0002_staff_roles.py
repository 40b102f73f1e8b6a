"""Staff roles: Support and Billing read the audit trail; Billing owns customers' cost caps.

Support (created by billing 0002 and captions 0005) sees jobs and billing and may retry
or cancel jobs. Billing sees billing, adds, changes and removes cost-cap overrides (each
change audited) and may handle failed Stripe events again; plans themselves change in
Stripe. Neither group gets anything else: no users, no API keys, no jobs for Billing.
"""

from django.db import migrations

from accounts.permissions import (
    BILLING_GROUP,
    SUPPORT_GROUP,
    group_permissions_grant,
    group_permissions_revoke,
)

BILLING_VIEW = ["view_billingaccount", "view_subscription", "view_subscriptionchange",
                "view_stripeevent", "view_usagerecord", "view_overagereport",
                "view_costwindow", "view_costreservation", "view_costcapoverride"]
BILLING_CHANGE = ["add_costcapoverride", "change_costcapoverride", "delete_costcapoverride",
                  "reprocess_stripeevent"]
GRANTS = [
    (SUPPORT_GROUP, "audit", ["view_auditentry"]),
    (BILLING_GROUP, "audit", ["view_auditentry"]),
    (BILLING_GROUP, "billing", BILLING_VIEW + BILLING_CHANGE),
]


def grant(apps, schema_editor):
    for group, app_label, codenames in GRANTS:
        group_permissions_grant(apps, group=group, app_label=app_label, codenames=codenames)


def revoke(apps, schema_editor):
    for group, app_label, codenames in GRANTS:
        group_permissions_revoke(apps, group=group, app_label=app_label, codenames=codenames)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_audit_entry"),
        ("billing", "0006_job_admissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
