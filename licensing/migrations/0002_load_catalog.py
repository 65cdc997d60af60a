from __future__ import annotations

from django.db import migrations


def load(apps, schema_editor):
    from licensing.catalog import load_catalog

    load_catalog(
        service_plan_model=apps.get_model("licensing", "ServicePlan"),
        product_model=apps.get_model("licensing", "Product"),
        link_model=apps.get_model("licensing", "ProductServicePlan"),
    )


class Migration(migrations.Migration):
    dependencies = [("licensing", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
