"""A handful of canned replies for the console (edit them in the admin). {customer_name} and {agent_name}
are filled in when an agent inserts one."""

from django.db import migrations

CANNED_REPLIES = [
    ("Greeting", "Hi {customer_name}, this is {agent_name} from the support team. I'm reading through your conversation now."),
    ("Looking into it", "Thanks for your patience, {customer_name}. I'm checking this with the team and will get back to you in a few minutes."),
    ("Return approved", "Good news: your return is approved. You'll get an email with the return label shortly; the refund is issued once the item reaches our warehouse."),
    ("Refund timing", "Refunds go back to the original payment method within 5–7 business days after we receive the item."),
    ("Anything else", "Is there anything else I can help you with today?"),
    ("Closing", "Thanks for contacting us, {customer_name}. Have a great day!"),
]


def add_replies(apps, schema_editor):
    CannedReply = apps.get_model("agents", "CannedReply")
    for title, text in CANNED_REPLIES:
        CannedReply.objects.get_or_create(title=title, defaults={"text": text})


def remove_replies(apps, schema_editor):
    CannedReply = apps.get_model("agents", "CannedReply")
    CannedReply.objects.filter(title__in=[title for title, _ in CANNED_REPLIES]).delete()


class Migration(migrations.Migration):
    dependencies = [("agents", "0001_initial")]

    operations = [migrations.RunPython(add_replies, remove_replies)]
