"""VerifiedOrder moves here from the runtime (support.0004), keeping its table and its rows."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0001_initial"),
        ("support", "0004_verifiedorder_moves_to_orders"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="VerifiedOrder",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("verified_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "order",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="orders.order"
                            ),
                        ),
                        (
                            "thread",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="verified_orders",
                                to="support.thread",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "support_verifiedorder",
                        "constraints": [
                            models.UniqueConstraint(fields=("thread", "order"), name="verified_order_once_per_thread")
                        ],
                    },
                )
            ],
            database_operations=[],
        )
    ]
