from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from config.cache import cache_forget_on_change

        from .models import ApiKey, User
        from .services import api_key_cache_forget

        def forget(key_hashes):
            api_key_cache_forget(key_hashes=key_hashes)

        cache_forget_on_change(ApiKey, what=lambda key: [key.key_hash], forget=forget,
                               uid="accounts_api_key_cache")
        # A user deactivated, deleted or otherwise changed: the copies of their keys carry it.
        cache_forget_on_change(
            User, what=lambda user: list(ApiKey.objects.filter(user_id=user.pk)
                                         .values_list("key_hash", flat=True)),
            forget=forget, uid="accounts_api_key_cache_user")
