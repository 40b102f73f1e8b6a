"""Give a user a paid plan for a period, without Stripe (local development, support)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from billing.grants import plan_grant
from config.errors import ApplicationError


class Command(BaseCommand):
    help = "Give the user with EMAIL the paid plan PLAN (creator, studio) for --days days."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("plan")
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--reason", default="", help="Kept in the audit trail.")

    def handle(self, *args, email, plan, days, reason, **options):
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No user with the email {email!r}.")
        try:
            grant = plan_grant(user=user, plan_code=plan, days=days, reason=reason,
                               actor_label="manage.py grant_plan")
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{user.email} has the {grant.get_plan_code_display()} plan until "
                          f"{grant.current_period_end:%Y-%m-%d %H:%M} UTC.")
