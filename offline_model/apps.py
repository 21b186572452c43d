from django.apps import AppConfig


class OfflineModelConfig(AppConfig):
    name = "offline_model"
    verbose_name = "Offline model"
