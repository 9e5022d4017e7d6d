"""The table of the moved FewShotExample takes explain's name (rows kept)."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('explain', '0002_fewshotexample_from_scoring'),
        ('scoring', '0002_fewshotexample_to_explain'),
    ]

    operations = [
        migrations.AlterModelTable(name='fewshotexample', table=None),
    ]
