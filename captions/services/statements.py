"""A job's status change and the rows that go with it, sent as one SQL statement.

A worker's job is mostly bookkeeping: the status change, its event, the results. Each
row written on its own is a round trip to PostgreSQL, and on a busy database the round
trips are what a job waits for. Here the rows to insert ride along with the job's
UPDATE as data-modifying CTEs (``WITH e AS (INSERT ...), t AS (INSERT ...) UPDATE ...``),
each INSERT compiled by Django exactly as ``bulk_create`` would send it, so the columns,
defaults and field conversions stay the models'.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models
from django.db.models.sql import InsertQuery, UpdateQuery

from ..models import CaptionJob

# Columns of the job that other writers change while a worker holds it (each model call
# adds its tokens and cost): returned by the statement, so the caller's copy is current.
RETURNED = ("input_tokens", "output_tokens", "cost_micro_usd")


def _insert(objs: Sequence[models.Model]) -> tuple[str, list]:
    model = type(objs[0])
    opts = model._meta
    fields = [f for f in opts.local_concrete_fields if f is not opts.pk]
    query = InsertQuery(model)
    query.insert_values(fields, objs, raw=False)
    [(sql, params)] = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def job_update_with_rows(job_id, *, status: str | None, values: dict,
                         rows: Sequence[Sequence[models.Model]]) -> dict | None:
    """UPDATE the job (only while its status is ``status``, when given) with ``values``,
    and insert ``rows`` (lists of unsaved instances, one model each), in one statement.

    Returns the ``RETURNED`` columns as updated, or None when no row matched; the rows
    are inserted either way, so call it inside a transaction the caller rolls back then.
    """
    jobs = CaptionJob.objects.filter(pk=job_id)
    if status is not None:
        jobs = jobs.filter(status=status)
    if connection.vendor != "postgresql":
        # Data-modifying CTEs are PostgreSQL's: elsewhere (the embedded SQLite default)
        # the same rows, one statement each, in the caller's transaction.
        for objs in rows:
            if objs:
                type(objs[0]).objects.bulk_create(objs)
        if not jobs.update(**values):
            return None
        return CaptionJob.objects.filter(pk=job_id).values(*RETURNED).get()
    query = jobs.query.chain(UpdateQuery)
    query.add_update_values(values)
    update_sql, update_params = query.get_compiler(connection=connection).as_sql()
    ctes, params = [], []
    for objs in rows:
        if objs:
            sql, insert_params = _insert(objs)
            ctes.append(f"i{len(ctes)} AS ({sql})")
            params.extend(insert_params)
    table = connection.ops.quote_name(CaptionJob._meta.db_table)
    returning = ", ".join(f"{table}.{connection.ops.quote_name(c)}" for c in RETURNED)
    statement = (f"WITH {', '.join(ctes)} " if ctes else "") + update_sql
    with connection.cursor() as cursor:
        cursor.execute(f"{statement} RETURNING {returning}", [*params, *update_params])
        row = cursor.fetchone()
    return None if row is None else dict(zip(RETURNED, row, strict=True))
