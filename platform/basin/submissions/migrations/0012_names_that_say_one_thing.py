"""Names that say one thing: a submission's two diagnostics are named by who computed them. The
worker's own, from the hidden labels, were `diagnostics`; the sandbox's run on public-label subsets
was `model_diagnostics`. Renamed in place: no data moves."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("submissions", "0011_runs"),
    ]

    operations = [
        migrations.RenameField(model_name="submission", old_name="diagnostics", new_name="trusted_diagnostics"),
        migrations.RenameField(model_name="submission", old_name="model_diagnostics", new_name="sandbox_diagnostics"),
    ]
