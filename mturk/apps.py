from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MturkConfig(AppConfig):
    name = "mturk"
    verbose_name = "Crowd providers"

    def ready(self):
        from .frozen import install_frozen_design_guards
        from .providers import load_providers

        load_providers()
        post_migrate.connect(install_frozen_design_guards, sender=self)
