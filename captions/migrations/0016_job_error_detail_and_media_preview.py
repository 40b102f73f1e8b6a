from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("captions", "0015_burn_in_export")]

    operations = [
        migrations.AddField(
            model_name="captionjob",
            name="error_detail",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="mediaasset",
            name="preview_key",
            field=models.CharField(blank=True, max_length=255),
        ),
    ]
