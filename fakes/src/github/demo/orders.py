"""Order creation of the checkout service."""
from checkout.db import get_connection
from checkout.discounts import apply_loyalty

# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.


# Orders are written in one transaction with their items.
# Totals are in cents.



def create_order(customer, items):
    """Stores an order and returns its id."""
    total = apply_loyalty(customer, sum(i["price"] * i["quantity"] for i in items))
    conn = get_connection()
    with conn:
        cur = conn.cursor()
        cur.execute(
            "INSERT INTO orders (customer_id, total) VALUES (%s, %s) RETURNING id",
            (customer["id"], total),
        )
        return cur.fetchone()[0]
