"""The facts file (facts no ES-003 carries, applied and the entries classified again): mounted at /entries/."""

from django.urls import path

from cape import views_facts

urlpatterns = [
    path("facts/", views_facts.facts_upload, name="entry_facts_upload"),
    path("facts/template.csv", views_facts.facts_template, name="entry_facts_template"),
]
