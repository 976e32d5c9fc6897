from django.urls import path

from apps.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.event_list, name="event-list"),
    path("verify/", views.chain_verify, name="verify"),
]
