"""Fixtures of the end-to-end tests: a database of their own on the real PostgreSQL."""
from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def postgres_database():
    import psycopg

    name = f"basin_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"postgres://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
