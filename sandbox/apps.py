from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Sandbox"

    def ready(self) -> None:
        # Registering, on import: the deployment check and the Celery task that sweeps idle sessions.
        from sandbox import checks, receivers, tasks, tools  # noqa: F401  (tools, receivers: code_interpreter)
