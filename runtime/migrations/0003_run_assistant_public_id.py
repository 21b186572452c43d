"""Runs outlive their assistant: keep the assistant's public id on the run, and let the foreign key go null."""

import django.db.models.deletion
from django.db import migrations, models


def copy_assistant_ids(apps, schema_editor):
    Run = apps.get_model("support", "Run")
    for run in Run.objects.select_related("assistant").iterator():
        run.assistant_public_id = run.assistant.public_id if run.assistant_id else ""
        run.save(update_fields=["assistant_public_id"])


class Migration(migrations.Migration):
    dependencies = [("support", "0002_alter_toolcall_side_toolapproval")]

    operations = [
        migrations.AddField(
            model_name="run",
            name="assistant_public_id",
            field=models.CharField(default="", max_length=40),
            preserve_default=False,
        ),
        migrations.RunPython(copy_assistant_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="run",
            name="assistant",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="runs",
                to="support.assistant",
            ),
        ),
    ]
