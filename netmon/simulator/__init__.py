"""netmon/simulator."""
