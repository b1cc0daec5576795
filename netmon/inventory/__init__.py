"""netmon/inventory."""
