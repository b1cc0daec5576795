"""Subcommands of ``netmon``: one module each, with ``register(subparsers)``."""
