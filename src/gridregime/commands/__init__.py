"""CLI sub-commands: each module defines ``register(subparsers)`` and is found automatically."""
