"""The seeded pilot fixture, shared with the other suite that reads it."""

from support.pilot import Pilot, pilot

__all__ = ("Pilot", "pilot")
