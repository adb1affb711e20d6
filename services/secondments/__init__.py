"""The secondment lifecycle: its tables, schemas, effects, timed steps and email wording."""
from services.secondments.workflow import SECONDMENTS

__all__ = ["SECONDMENTS"]
