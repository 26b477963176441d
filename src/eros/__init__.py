"""EROS scheduler: weekly mass-message schedules for creator pages, learned from their history."""

__version__ = "0.1.0"
