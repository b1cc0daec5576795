"""netmon/snmp."""
