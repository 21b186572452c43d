"""Runs that rested in requires_action for a person's approval (before approvals became work of their own)
are released, as the runtime now does at once: the call is answered that a colleague will decide, and the
run ends its turn (cancelled: it never answered), so its customer can write again. The approval keeps
waiting, with a deadline of its own, for the console's queue."""

import json

from django.db import migrations
from django.db.models import F
from django.utils import timezone

AWAITING = (
    "A colleague from our team has to approve {what}. I've passed the request on, and their answer will "
    "appear here in this chat. Nothing has been done yet; meanwhile you can keep writing, ask for a person, "
    "or withdraw the request."
)


def release(apps, schema_editor):
    ToolApproval = apps.get_model("support", "ToolApproval")
    now = timezone.now()
    # Older requests have no words for the customer: the agent's summary stands in.
    ToolApproval.objects.filter(customer_summary="").update(customer_summary=F("summary"))
    for approval in ToolApproval.objects.filter(status="pending", call__status="pending").select_related(
        "call__step__run"
    ):
        call, step, run = approval.call, approval.call.step, approval.call.step.run
        output = {"status": "awaiting_approval", "done": False, "message": AWAITING.format(what=approval.summary)}
        call.status, call.output, call.finished_at = "completed", json.dumps(output), now
        call.save(update_fields=["status", "output", "finished_at"])
        if not step.tool_calls.filter(status="pending").exists():
            step.status, step.completed_at = "completed", now
            step.save(update_fields=["status", "completed_at"])
        if run.status == "requires_action" and not run.steps.filter(tool_calls__status="pending").exists():
            run.status, run.cancelled_at, run.required_action = "cancelled", now, None
            run.save(update_fields=["status", "cancelled_at", "required_action"])


class Migration(migrations.Migration):
    dependencies = [("support", "0005_approvals_are_work")]

    operations = [migrations.RunPython(release, migrations.RunPython.noop)]
