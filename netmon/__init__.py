"""netmon: network monitoring for the Ministry of Interior ICT backbone."""

__version__ = "0.1.0"
