"""FewShotExample moves from scoring to explain (the TeLLMe explainers read it): state only, the table stays."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('explain', '0001_initial'),
        ('scoring', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='FewShotExample',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('unit', models.PositiveIntegerField()),
                        ('kind', models.CharField(choices=[('caption', 'Caption - activation'), ('class', 'Class name - weight'), ('unit', 'Next-layer unit label - weight')], default='caption', max_length=10)),
                        ('explanation', models.TextField(help_text="What the unit detects, e.g. 'dogs in snowy scenes'.")),
                        ('note', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('layer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='few_shot_examples', to='explain.layer')),
                    ],
                    options={
                        'ordering': ['layer', 'kind', 'unit'],
                        'constraints': [models.UniqueConstraint(fields=('layer', 'unit', 'kind'), name='unique_few_shot_unit')],
                        'db_table': 'scoring_fewshotexample',
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
