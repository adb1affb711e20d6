"""The application layer: one function per use, one transaction each.

    infra/        the database and the unit of work: engines, the two dialects' one
                  difference, transactions; no rule, no lifecycle
    config/       data and configuration, read at start-up: settings (RSO_…), the
                  business calendar, the timing policy file, reference data
    engine/       what every lifecycle shares, naming none: the Workflow (finding, refusals,
                  If-Match, idempotency, history), tasks (kinds, who they are for, the notice
                  schedule), domain events, errors, shared tables and schemas
    proposals/    one lifecycle: its tables, schemas, effects, timers and email wording
    secondments/  the other
    accounts/     who may sign in and how: users, passwords, the sign-in throttle and log,
                  server-side sessions, two-factor sign-in
    *.py          use cases across lifecycles: the deadline sweep, emails, the daily digest,
                  admin, demo data; `wiring` names the lifecycles a service serves

Imports run one way, checked by import-linter (`.importlinter`): use cases → lifecycles →
config → engine → infra; each lifecycle package stays out of the other's.
"""
