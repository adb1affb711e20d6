"""The OpenAPI document tells the truth: schemathesis drives every operation it describes, with
data the document allows and data it does not, signed in as a member state's official, and
checks each answer with its default checks (no server error, every status, content type,
header and body as documented, bad data refused, good data accepted)."""
from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from rso.app import create_app
from tests.conftest import Api

pytestmark = pytest.mark.slow
EXAMPLES = 15  # a case of each kind per operation and mode, give or take: bounded, for the suite's time
# The default checks, with one more way this API refuses bad data: a body over the size limit
# is 413 (the check's own list has 400, 401, 403, 404, 405, 406, 409, 415, 422, 428, 429).
CONFIG = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": [
    "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]}}})


def test_every_operation_answers_as_documented(settings, clock):
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {Api(client, clock).token('tha')}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                                 database=None, derandomize=True)  # the same cases on every run
            def check(case):
                case.call_and_validate(headers=auth)
            try:
                check()
            except Unsatisfiable:
                pass  # nothing to make invalid (an operation without parameters or body)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - all collected, reported at once
                failures.append(f"{operation.label} ({mode.value}): {str(exc).strip()[:1500]}")
    assert not failures, "\n\n".join(failures)
