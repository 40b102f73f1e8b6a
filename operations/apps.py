from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Staff pages over the whole product: the operations dashboard and the capacity planner."""

    name = "operations"
    default_auto_field = "django.db.models.BigAutoField"
