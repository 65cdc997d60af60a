"""The catalog stamp and the triggers that change it on every write to the catalog's tables.

PostgreSQL takes the next value of a sequence (never handed out twice, even by a transaction
that rolls back); SQLite, which has no sequences, a random 63-bit value.
"""

from django.db import migrations, models

TABLES = [
    "licensing_product",
    "licensing_serviceplan",
    "licensing_productserviceplan",
    "licensing_serviceplan_depends_on",
    "licensing_serviceplan_exclusive_with",
]

POSTGRESQL = [
    "CREATE SEQUENCE licensing_catalog_stamp_seq",
    """CREATE FUNCTION licensing_catalog_changed() RETURNS trigger AS $$
    BEGIN
      UPDATE licensing_catalogstamp SET value = nextval('licensing_catalog_stamp_seq');
      RETURN NULL;
    END $$ LANGUAGE plpgsql""",
] + [
    f"""CREATE TRIGGER {table}_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION licensing_catalog_changed()"""
    for table in TABLES
]
POSTGRESQL_DROP = [f"DROP TRIGGER {table}_stamp ON {table}" for table in TABLES] + [
    "DROP FUNCTION licensing_catalog_changed()",
    "DROP SEQUENCE licensing_catalog_stamp_seq",
]
SQLITE = [
    f"""CREATE TRIGGER {table}_stamp_{event.lower()} AFTER {event} ON {table}
    BEGIN UPDATE licensing_catalogstamp SET value = abs(random() / 2); END"""
    for table in TABLES
    for event in ("INSERT", "UPDATE", "DELETE")
]
SQLITE_DROP = [
    f"DROP TRIGGER {table}_stamp_{event.lower()}"
    for table in TABLES
    for event in ("INSERT", "UPDATE", "DELETE")
]


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements[schema_editor.connection.vendor]:
            schema_editor.execute(sql)

    return run


def first_row(apps, schema_editor):
    apps.get_model("licensing", "CatalogStamp").objects.create(id=1, value=0)


class Migration(migrations.Migration):
    dependencies = [("licensing", "0011_account_preferences")]

    operations = [
        migrations.CreateModel(
            name="CatalogStamp",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(first_row, migrations.RunPython.noop),
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}),
        ),
    ]
