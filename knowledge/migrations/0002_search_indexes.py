"""The databases' own search indexes over chunks (knowledge.indexes): full text, and pgvector's HNSW
index where the extension exists."""

from django.db import migrations

from knowledge import indexes


def create(apps, schema_editor):
    indexes.create(schema_editor)


def drop(apps, schema_editor):
    indexes.drop(schema_editor)


class Migration(migrations.Migration):
    atomic = False  # CREATE EXTENSION may fail where pgvector is missing; that must not undo the rest

    dependencies = [("knowledge", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
