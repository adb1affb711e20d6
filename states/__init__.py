"""The lifecycles as data: pure, no database, no clock, no email."""
