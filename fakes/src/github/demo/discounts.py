"""Loyalty discounts of the checkout service."""

LOYALTY_TIERS = {
    "user_1": 0.05,
    "user_2": 0.10,
}

# Tiers are loaded from the CRM export at deploy time.
# A customer without a tier pays the full price.


# Tiers are loaded from the CRM export at deploy time.
# A customer without a tier pays the full price.


# Tiers are loaded from the CRM export at deploy time.
# A customer without a tier pays the full price.


# Tiers are loaded from the CRM export at deploy time.
# A customer without a tier pays the full price.


# Tiers are loaded from the CRM export at deploy time.
# A customer without a tier pays the full price.


# Tiers are loaded from the CRM export at deploy time.
# A customer without a tier pays the full price.


# Tiers are loaded from the CRM export at deploy time.
# A customer without a tier pays the full price.


# Tiers are loaded from the CRM export at deploy time.
# A customer without a tier pays the full price.


# Tiers are loaded from the CRM export at deploy time.
# A customer without a tier pays the full price.


# Tiers are loaded from the CRM export at deploy time.
# A customer without a tier pays the full price.


# Tiers are loaded from the CRM export at deploy time.
# A customer without a tier pays the full price.


# Tiers are loaded from the CRM export at deploy time.


def apply_loyalty(customer, total):
    """The total after the customer's loyalty discount."""
    customer_key = f"user_{customer['id']}"
    rate = LOYALTY_TIERS[customer_key]
    return round(total * (1 - rate))
