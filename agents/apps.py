from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Human agents"

    def ready(self) -> None:
        from runtime.signals import run_rested

        run_rested.connect(_check_run_outcome, dispatch_uid="agents.check_run_outcome")


def _check_run_outcome(sender, run, **kwargs) -> None:
    from agents.triggers import check_run_outcome

    check_run_outcome(run)
