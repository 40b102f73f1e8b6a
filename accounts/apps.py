from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from .models import ApiKey, User
        from .services import api_key_cache_forget

        def forget(key_hashes):
            # Now, and again once committed: a copy cached from the old rows meanwhile
            # (by another request) is never used after the change.
            api_key_cache_forget(key_hashes=key_hashes)
            transaction.on_commit(lambda: api_key_cache_forget(key_hashes=key_hashes))

        def key_changed(sender, instance, **kwargs):
            forget([instance.key_hash])

        def user_changed(sender, instance, **kwargs):
            # Deactivated, deleted or otherwise changed: the copies of their keys carry it.
            hashes = list(ApiKey.objects.filter(user_id=instance.pk)
                          .values_list("key_hash", flat=True))
            if hashes:
                forget(hashes)

        post_save.connect(key_changed, sender=ApiKey, weak=False,
                          dispatch_uid="accounts_api_key_cache")
        post_delete.connect(key_changed, sender=ApiKey, weak=False,
                            dispatch_uid="accounts_api_key_cache")
        post_save.connect(user_changed, sender=User, weak=False,
                          dispatch_uid="accounts_api_key_cache_user")
        post_delete.connect(user_changed, sender=User, weak=False,
                            dispatch_uid="accounts_api_key_cache_user")
