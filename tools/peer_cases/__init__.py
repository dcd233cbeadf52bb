"""Case modules for tools/compare_peers.py: each defines ``cases(n) -> list[Case]``."""
