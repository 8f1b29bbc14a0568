"""Names that say one thing: a submission's two diagnostics are named by who computed them. The
worker's own, from the hidden labels, were `diagnostics`; the sandbox's run on public-label subsets
was `model_diagnostics`. Only the fields are renamed: their columns keep their names (db_column),
so this migration changes nothing in the database, and a worker of the release before, still
writing the old names, keeps working while the web migrates."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("submissions", "0011_runs"),
    ]

    operations = [
        migrations.AlterField(model_name="submission", name="diagnostics",
                              field=models.JSONField(blank=True, default=dict, db_column="diagnostics")),
        migrations.RenameField(model_name="submission", old_name="diagnostics", new_name="trusted_diagnostics"),
        migrations.AlterField(model_name="submission", name="model_diagnostics",
                              field=models.JSONField(blank=True, default=dict, db_column="model_diagnostics")),
        migrations.RenameField(model_name="submission", old_name="model_diagnostics", new_name="sandbox_diagnostics"),
    ]
