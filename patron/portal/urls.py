from django.urls import path

from patron.portal import views

app_name = "portal"
urlpatterns = [
    path("<slug:slug>/", views.home, name="home"),
    path("<slug:slug>/code/request/", views.code_request, name="code_request"),
    path("<slug:slug>/code/", views.code, name="code"),
    path("<slug:slug>/join/", views.join, name="join"),
    path("<slug:slug>/claim/", views.claim, name="claim"),
    path("<slug:slug>/sign-out/", views.sign_out, name="sign_out"),
    path("<slug:slug>/widget.js", views.widget, name="widget"),
]
