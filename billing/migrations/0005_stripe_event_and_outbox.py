"""The stored Stripe event is called what it is; overage reports record when they were queued.

``WebhookEvent`` became ``StripeEvent`` (the outgoing webhooks have their own event
types). Its permissions are renamed in place, so the Support group and anyone given
``reprocess_webhookevent`` by hand keep them.
"""

import django.db.models.functions.datetime
import django.utils.timezone
from django.db import migrations, models

RENAMED = {
    f"{verb}_webhookevent": f"{verb}_stripeevent"
    for verb in ("add", "change", "delete", "view", "reprocess")
}


def _rename(apps, mapping):
    Permission = apps.get_model("auth", "Permission")
    for old, new in mapping.items():
        perms = Permission.objects.filter(content_type__app_label="billing", codename=old)
        for perm in perms:
            if Permission.objects.filter(content_type=perm.content_type, codename=new).exists():
                continue
            perm.codename = new
            perm.name = perm.name.replace("webhook event", "stripe event")
            perm.save(update_fields=["codename", "name"])


def forwards(apps, schema_editor):
    _rename(apps, RENAMED)


def backwards(apps, schema_editor):
    _rename(apps, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_support_group_cost_ledger"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RenameModel("WebhookEvent", "StripeEvent"),
        migrations.AlterModelOptions(
            name="stripeevent",
            options={
                "ordering": ["-received_at"],
                "permissions": [("reprocess_stripeevent", "Can handle failed Stripe events again")],
            },
        ),
        migrations.RunPython(forwards, backwards),
        migrations.AddField(
            model_name="overagereport",
            name="queued_at",
            field=models.DateTimeField(default=django.utils.timezone.now,
                                       db_default=django.db.models.functions.datetime.Now()),
        ),
    ]
