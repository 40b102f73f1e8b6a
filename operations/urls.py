from django.contrib import admin
from django.urls import path

from . import views

app_name = "operations"
urlpatterns = [
    path("", admin.site.admin_view(views.operations_dashboard), name="dashboard"),
    path("capacity/", admin.site.admin_view(views.capacity_planner), name="capacity"),
]
