"""Reads whose SQL Django compiles once per process, for the few asked on every request.

Fetching one job by owner and id costs about 0.8 ms of CPU through the ORM, of which
0.17 ms is the database round trip and the rest building the QuerySet and compiling its
SQL (68 columns with the asset's) again on every request: a third of a job detail's
CPU, half of a status poll's. A ``CompiledRead`` builds its QuerySet once with marker
values, lets Django compile it, remembers where the markers landed in the parameter
list, and then runs that SQL with each call's values, turning rows into model
instances exactly as Django's ``ModelIterable`` does (``select_related`` and ``only``
included), so callers get the same objects the QuerySet would have given.

Only plain reads: no ``select_for_update``, ``prefetch_related``, ``values()`` or
related-manager querysets (refused when compiled). ``tests/test_compiled_reads.py``
compares every read with its QuerySet, so a Django upgrade that moves these internals
fails there rather than in a request.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.db import connections, router
from django.db.models import Field, Model, QuerySet
from django.db.models.query import ModelIterable, get_related_populators

_NO_MATCH = object()  # a value the column cannot hold: no row can match it
_MARKER_EPOCH = datetime(1900, 1, 1, tzinfo=UTC)


class _Compiled:
    def __init__(self, queryset: QuerySet, markers: dict, fields: dict, alias: str):
        connection = connections[alias]
        compiler = queryset.query.get_compiler(using=alias)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        # Where each marker's database value sits; every marker must be there.
        self.slots: list[tuple[int, str]] = []
        for name, marker in markers.items():
            prepped = fields[name].get_db_prep_value(marker, connection)
            found = [i for i, p in enumerate(self.params) if p == prepped]
            if not found:
                raise ValueError(f"the compiled read does not use its parameter {name!r}")
            self.slots += [(i, name) for i in found]
        select, klass_info = compiler.select, compiler.klass_info
        self.model = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        self.bounds = (start, end)
        self.init_list = [s[0].target.attname for s in select[start:end]]
        self.populators = get_related_populators(klass_info, select, alias)
        self.annotations = dict(compiler.annotation_col_map or {})
        self.converters = compiler.get_converters(
            [s[0] for s in select[0:compiler.col_count]])


class CompiledRead:
    """``build(**markers)`` compiled once per database; ``read(**values)`` runs it.

    ``model`` is what the read returns (and what the database router is asked about);
    ``fields`` names the model field each parameter is compared with (for equality, or
    an order for a date and time): values are checked and prepared as the ORM would
    (``get_prep_value``, ``get_db_prep_value``), and an integer the column cannot hold
    matches nothing (integers are compared for equality only).
    """

    def __init__(self, model: type[Model], build: Callable[..., QuerySet], **fields: Field):
        self.model = model
        self.build = build
        self.fields = fields
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _marker(self, field: Field):
        kind = (field.target_field if field.is_relation else field).get_internal_type()
        if kind == "UUIDField":
            return uuid.uuid4()
        if "Integer" in kind or kind in ("AutoField", "BigAutoField", "SmallAutoField"):
            return 10**15 + secrets.randbelow(10**15)
        if kind == "DateTimeField":
            return _MARKER_EPOCH + timedelta(microseconds=secrets.randbelow(10**15))
        return f"compiled-read-{secrets.token_hex(8)}"

    def _compile(self, alias: str) -> _Compiled:
        with self._lock:
            if alias not in self._compiled:
                markers = {name: self._marker(f) for name, f in self.fields.items()}
                queryset = self.build(**markers)
                if (queryset.query.select_for_update or queryset._prefetch_related_lookups
                        or queryset._known_related_objects
                        or queryset._iterable_class is not ModelIterable):
                    raise ValueError("a compiled read is a plain read of model instances")
                self._compiled[alias] = _Compiled(queryset.using(alias), markers,
                                                  self.fields, alias)
            return self._compiled[alias]

    def __call__(self, *, using: str | None = None, **values) -> list[Model]:
        alias = using or router.db_for_read(self.model)
        compiled = self._compiled.get(alias) or self._compile(alias)
        connection = connections[alias]
        params = list(compiled.params)
        for i, name in compiled.slots:
            value = self._prepared(self.fields[name], values[name], connection)
            if value is _NO_MATCH:
                return []
            params[i] = value
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        return [self._instance(compiled, row, alias, connection) for row in rows]

    @staticmethod
    def _prepared(field: Field, value, connection):
        """``value`` as the ORM sends it for ``field = value``: converted by the field (a
        wrong type raises as the QuerySet would), and an integer outside the column's
        range matches nothing (``_NO_MATCH``), as Django's exact lookup decides."""
        target = field.target_field if field.is_relation else field
        value = target.get_prep_value(value)
        ranges = connection.ops.integer_field_ranges
        if value is not None and target.get_internal_type() in ranges:
            low, high = ranges[target.get_internal_type()]
            if (low is not None and value < low) or (high is not None and value > high):
                return _NO_MATCH
        return target.get_db_prep_value(value, connection, prepared=True)

    @staticmethod
    def _instance(compiled: _Compiled, row, alias: str, connection) -> Model:
        if compiled.converters:
            row = list(row)
            for pos, (converters, expression) in compiled.converters.items():
                value = row[pos]
                for converter in converters:
                    value = converter(value, expression, connection)
                row[pos] = value
        start, end = compiled.bounds
        obj = compiled.model.from_db(alias, compiled.init_list, row[start:end])
        for populator in compiled.populators:
            populator.populate(row, obj)
        for name, pos in compiled.annotations.items():
            setattr(obj, name, row[pos])
        return obj
