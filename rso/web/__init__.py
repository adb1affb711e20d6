"""The web app for people: server-rendered pages on the same FastAPI app, calling the same
service functions as the API (no rule of the lifecycles lives here)."""
