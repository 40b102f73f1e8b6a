from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("settings/account/", views.account, name="account"),
    path("settings/account/delete/", views.account_delete, name="account_delete"),
    path("settings/api-keys/", views.api_keys, name="api_keys"),
    path("settings/api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
