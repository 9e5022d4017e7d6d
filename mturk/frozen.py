"""The database's own guard of "a published design is frozen": triggers that refuse to change a
design column of a publication (or of its provider's design row) once `published_at` is set.

Model `clean()`/`save()` already refuse such changes (`mturk.models.FrozenDesignMixin`); the
triggers also stop queryset `update()`s and raw SQL. They are (re)installed after every `migrate`
(post_migrate), because SQLite drops a table's triggers when a migration rebuilds the table, and
their column lists come from the models' `DESIGN_FIELDS`, so they follow the models.
SQLite and PostgreSQL get triggers; other databases keep the model-level guard only.
"""
from django.db import connections

FROZEN_MESSAGE = "the design of a publication sent to its provider is frozen"


def _guards():
    """(model, condition that the row's publication is published, columns, extra SQL condition) per table."""
    from .models import Publication
    from .providers.mturk.models import MTurkDesign
    from .providers.prolific.models import ProlificDesign

    def columns(model):
        return [model._meta.get_field(name).column for name in model.DESIGN_FIELDS]

    guards = [(Publication, "OLD.published_at IS NOT NULL", columns(Publication), "NEW.published_at IS NULL")]
    for model in (MTurkDesign, ProlificDesign):
        published = (
            f"(SELECT published_at FROM {Publication._meta.db_table} WHERE id = OLD.publication_id) IS NOT NULL"
        )
        extra = None
        if model is ProlificDesign:
            # The study id is filled in once, when Prolific answers the draft; never changed after.
            extra = "OLD.prolific_study_id <> '' AND NEW.prolific_study_id <> OLD.prolific_study_id"
        guards.append((model, published, columns(model), extra))
    return guards


def _sqlite_statements(table, published, changes):
    name = f"{table}_frozen_design"
    return [
        f"DROP TRIGGER IF EXISTS {name}",
        f'CREATE TRIGGER {name} BEFORE UPDATE ON "{table}" FOR EACH ROW '
        f"WHEN {published} AND ({' OR '.join(changes)}) "
        f"BEGIN SELECT RAISE(ABORT, '{FROZEN_MESSAGE}'); END",
    ]


def _postgresql_statements(table, published, changes):
    name = f"{table}_frozen_design"
    return [
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
        f"IF {published} AND ({' OR '.join(changes)}) THEN "
        f"RAISE EXCEPTION '{FROZEN_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation'; END IF; "
        "RETURN NEW; END $$ LANGUAGE plpgsql",
        f'DROP TRIGGER IF EXISTS {name} ON "{table}"',
        f'CREATE TRIGGER {name} BEFORE UPDATE ON "{table}" FOR EACH ROW EXECUTE FUNCTION {name}()',
    ]


def install_frozen_design_guards(using="default", **kwargs):
    """post_migrate receiver: (re)create the triggers on database `using` (SQLite, PostgreSQL)."""
    connection = connections[using]
    if connection.vendor not in {"sqlite", "postgresql"}:
        return
    existing = set(connection.introspection.table_names())
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model, published, columns, extra in _guards():
            table = model._meta.db_table
            if table not in existing:
                continue
            if connection.vendor == "sqlite":
                changes = [f"NEW.{quote(c)} IS NOT OLD.{quote(c)}" for c in columns]
                build = _sqlite_statements
            else:
                changes = [f"NEW.{quote(c)} IS DISTINCT FROM OLD.{quote(c)}" for c in columns]
                build = _postgresql_statements
            if extra:
                changes.append(extra)
            for statement in build(table, published, changes):
                cursor.execute(statement)
