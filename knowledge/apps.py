from django.apps import AppConfig

from runtime import hooks


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "Knowledge"

    def ready(self) -> None:
        # Registering, on import: the deployment checks, the Celery tasks, and the file_search tool
        # with the runtime; then
        # what knowledge does when the runtime tells it something.
        from knowledge import checks, images, receivers, tasks, tools  # noqa: F401

        hooks.attachments_added.connect(receivers.files_attached, dispatch_uid="knowledge.files_attached")
        hooks.run_rested.connect(receivers.handed_over_after_a_search, dispatch_uid="knowledge.handed_over")
        hooks.tool_resources_resolver(receivers.file_search_resources)
        hooks.image_source(images)  # which image files a thread's messages may name, and their bytes
        hooks.files_finder(receivers.owners_files)
