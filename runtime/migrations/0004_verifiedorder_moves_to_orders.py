"""VerifiedOrder belongs to the shop (orders.assistant.proofs) now: the model leaves this app's state;
its table stays where it is, and orders.0002 takes it over."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("support", "0003_run_assistant_public_id")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="VerifiedOrder")],
            database_operations=[],
        )
    ]
