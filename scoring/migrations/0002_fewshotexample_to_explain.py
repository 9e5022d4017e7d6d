"""FewShotExample moved to explain (explain 0002 took over its state); the table is kept and renamed there."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('scoring', '0001_initial'),
        ('explain', '0002_fewshotexample_from_scoring'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='FewShotExample')],
            database_operations=[],
        ),
    ]
