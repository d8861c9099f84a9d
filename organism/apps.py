from django.apps import AppConfig


class OrganismConfig(AppConfig):
    name = "organism"
    verbose_name = "Organism core"
    default_auto_field = "django.db.models.BigAutoField"
