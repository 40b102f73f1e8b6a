"""Support staff see jobs and their results, and may retry or cancel jobs.

Retry and cancel are admin actions behind the "change" permission on caption jobs;
every field of a job stays read-only in the admin, so "change" allows nothing else.
"""

from django.db import migrations

from accounts.permissions import SUPPORT_GROUP, group_permissions_grant, group_permissions_revoke

CODENAMES = ["view_captionjob", "change_captionjob", "view_mediaasset", "view_transcript",
             "view_captionvariant", "view_jobevent", "view_modelcall"]


def grant(apps, schema_editor):
    group_permissions_grant(apps, group=SUPPORT_GROUP, app_label="captions", codenames=CODENAMES)


def revoke(apps, schema_editor):
    group_permissions_revoke(apps, group=SUPPORT_GROUP, app_label="captions", codenames=CODENAMES)


class Migration(migrations.Migration):
    dependencies = [
        ("captions", "0004_job_deferrals"),
        ("billing", "0002_support_group_can_view_billing"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
