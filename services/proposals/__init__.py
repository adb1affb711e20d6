"""The proposal lifecycle: its tables, schemas, effects, timed steps and email wording."""
from services.proposals.workflow import PROPOSALS

__all__ = ["PROPOSALS"]
