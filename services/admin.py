"""What an admin reads about the service itself: the outbox."""
from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import select

from notifications.outbox import OutboxMessage, OutboxStatus
from services.engine.errors import Forbidden
from services.engine.models import User
from services.infra.uow import Services
from states.common import Role


async def outbox_status(svc: Services, *, user: User, failed_limit: int = 20) -> tuple[dict[str, int], list[OutboxMessage]]:
    """How many emails are in each state, and the latest that failed for good."""
    if user.role != Role.ADMIN:
        raise Forbidden("only an admin may read the outbox")
    t = OutboxMessage.__table__
    async with svc.uow(write=False) as uow:
        counts = {s: n for s, n in (await uow.session.exec(
            sa.select(t.c.status, sa.func.count()).group_by(t.c.status))).all()}
        failed = list((await uow.session.exec(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
                                              .order_by(OutboxMessage.id.desc()).limit(failed_limit))).all())
    return counts, failed
