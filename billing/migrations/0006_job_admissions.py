"""Quotas become a ledger: one row per admitted job, written under the user's lock.

Jobs created in the last hour are copied in, so the jobs-per-hour quota counts them at
once after the deploy; jobs still queued or running hold their media's duration.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def backfill(apps, schema_editor):
    CaptionJob = apps.get_model("captions", "CaptionJob")
    JobAdmission = apps.get_model("billing", "JobAdmission")
    since = timezone.now() - timezone.timedelta(hours=1)
    live = ("queued", "processing")
    jobs = CaptionJob.objects.filter(models.Q(created_at__gt=since) | models.Q(status__in=live))
    JobAdmission.objects.bulk_create(
        JobAdmission(
            user_id=job.owner_id, job_id=job.pk, admitted_at=job.created_at,
            held_seconds=round(job.asset.duration_seconds or 0),
            status="held" if job.status in live else (
                "settled" if job.status == "done" else "released"),
            finished_at=None if job.status in live else job.finished_at,
        )
        for job in jobs.select_related("asset").iterator()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_stripe_event_and_outbox"),
        ("captions", "0008_retention"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="JobAdmission",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("job_id", models.UUIDField(db_index=True)),
                ("admitted_at", models.DateTimeField()),
                ("held_seconds", models.PositiveIntegerField(default=0)),
                ("status", models.CharField(
                    choices=[("held", "Held by a queued or running job"),
                             ("settled", "Settled: the job finished"),
                             ("released", "Released: the job failed or was cancelled")],
                    default="held", max_length=10)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                           related_name="job_admissions",
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["-admitted_at"],
                "indexes": [
                    models.Index(fields=["user", "admitted_at"],
                                 name="billing_job_user_id_0c5ccc_idx"),
                    models.Index(fields=["user", "status"], name="billing_job_user_id_e741f8_idx"),
                ],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
