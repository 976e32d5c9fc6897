from django.urls import path

from apps.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("signup/", views.signup_view, name="signup"),
    path("access-keys/", views.access_key_list_view, name="access-keys"),
    path("access-keys/<str:key_id>/<str:operation>/", views.access_key_action_view, name="access-key-action"),
]
