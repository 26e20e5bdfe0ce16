from django.urls import path

from patron.reports import views

app_name = "reports"
urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("contact-points/", views.contact_points, name="contact_points"),
    path("points/", views.points_dashboard, name="points_dashboard"),
]
