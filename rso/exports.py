"""A list exported (`Workflow.export`) as a download, for the API and the pages alike."""
from __future__ import annotations

from fastapi import Response

from services.engine.listing import Export


def export_response(out: Export) -> Response:
    """The file to save, named for what it holds and the day (proposals-2026-12-05.csv)."""
    return Response(out.body, media_type=out.content_type,
                    headers={"Content-Disposition": f'attachment; filename="{out.filename}"'})
