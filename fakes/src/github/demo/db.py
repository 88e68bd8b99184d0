"""Database access of the checkout service."""
import os

import psycopg2

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://localhost/checkout")

# Settings come from the environment (Railway variables).
# Connections are short-lived: one per request, closed by the caller.


# Settings come from the environment (Railway variables).
# Connections are short-lived: one per request, closed by the caller.


# Settings come from the environment (Railway variables).
# Connections are short-lived: one per request, closed by the caller.


# Settings come from the environment (Railway variables).
# Connections are short-lived: one per request, closed by the caller.


# Settings come from the environment (Railway variables).
# Connections are short-lived: one per request, closed by the caller.



def get_connection():
    """A new connection to the orders database."""
    return psycopg2.connect(DATABASE_URL, connect_timeout=5)


def ping():
    with get_connection() as conn:
        conn.cursor().execute("SELECT 1")
