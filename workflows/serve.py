"""`rso flows`: serve the scheduled flows from this process (a Prefect server must be reachable
at PREFECT_API_URL). SIGTERM or Ctrl-C stops it."""
from __future__ import annotations

from prefect import serve
from prefect.deployments.runner import EntrypointType
from prefect.schedules import Cron

from workflows.flows import delivery_flow, digest_flow, sweep_flow

# Reminders and escalations fall at 08:00 in the RSO's time zone; sweeping every five minutes
# keeps them within minutes of it and takes the timed steps soon after they fall due.
SWEEP_CRON = "*/5 * * * *"
DELIVERY_CRON = "* * * * *"  # retries and anything the service's own deliverer left
DIGEST_CRON = "0 8 * * *"


def deployments(timezone: str = "Asia/Bangkok") -> list:
    # By module path, so a run finds its flow wherever the package is installed.
    common = dict(name="rso", entrypoint_type=EntrypointType.MODULE_PATH)
    return [
        sweep_flow.to_deployment(schedules=[Cron(SWEEP_CRON, timezone=timezone)],
                                 description="Reminders, escalations and timed steps, every five minutes.", **common),
        delivery_flow.to_deployment(schedules=[Cron(DELIVERY_CRON, timezone=timezone)],
                                    description="Deliver the outbox, every minute.", **common),
        digest_flow.to_deployment(schedules=[Cron(DIGEST_CRON, timezone=timezone)],
                                  description="The co-managers' daily digest, at 08:00.", **common),
    ]


def main(timezone: str = "Asia/Bangkok") -> None:
    serve(*deployments(timezone), print_starting_message=True)
