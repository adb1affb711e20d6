"""The timing policy file: the defaults are PRODUCT.md's table; a bad file stops the service
at start-up with the line and the reason."""
from __future__ import annotations

import pytest

from services.config.settings import Settings
from services.config.policy import DEFAULT_FILE, PolicyError, load_policy, parse_policy

DEFAULT = DEFAULT_FILE.read_text(encoding="utf-8")


def test_the_default_policy_is_the_product_table():
    p = load_policy()
    review = p.task("review")
    assert (review.due_business_days, review.remind_business_days_before, review.escalate_business_days_after,
            review.escalate_every_business_days, review.escalate_to) == (10, (2, 0), 3, 5, "co_chairs")
    consultation = p.task("consultation")
    assert (consultation.due_business_days, consultation.escalate_business_days_after,
            consultation.auto_close_business_days_after, consultation.escalate_to) == (15, 0, 5, "co_managers")
    assert p.task("guidance").escalate_to == "co_managers" and p.task("guidance").escalate_business_days_after == 5
    for kind in ("decision", "extension"):
        assert p.task(kind).escalate_to == "co_chairs" and p.task(kind).due_business_days == 10
    assert p.task("final_report").due_business_days_after_end == 10
    assert (p.secondment.ask_about_extension_days_before_end, p.secondment.begin_handover_days_before_end,
            p.secondment.checklist_reminder_days_before_start) == (60, 30, 14)


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("old, new, field, reason", [
    ('escalate_every_business_days = 5\nescalate_to = "co_chairs"', 'escalate_every_business_days = 5\nescalate_to = "boss"',
     "tasks.review.escalate_to", "'co_chairs' or 'co_managers'"),
    ("due_business_days = 15\nremind_business_days_before = [3]\nescalate_business_days_after = 5",
     "due_business_days = -2\nremind_business_days_before = [3]\nescalate_business_days_after = 5",
     "tasks.guidance.due_business_days", "greater than or equal to 1"),
    ("auto_close_business_days_after = 5", "auto_close_after = 5", "tasks.consultation.auto_close_after",
     "unknown setting"),
])
def test_a_bad_value_is_refused_with_its_line_and_reason(old, new, field, reason):
    assert old in DEFAULT
    text = DEFAULT.replace(old, new, 1)
    with pytest.raises(PolicyError) as err:
        parse_policy(text)
    bad = next(line for line in new.splitlines() if line not in old.splitlines())
    assert f"line {line_of(text, bad)}: {field}: " in str(err.value) and reason in str(err.value)


def test_a_missing_task_kind_and_broken_toml_are_named():
    without = DEFAULT.replace("[tasks.extension]", "[tasks.extension_typo]")
    with pytest.raises(PolicyError, match=r"missing \[tasks.extension\].*unknown task kind \[tasks.extension_typo\]"):
        parse_policy(without)
    with pytest.raises(PolicyError, match=r"line 3"):
        parse_policy("notice_hour = 8\n[tasks.review]\ndue_business_days = = 3\n")


def test_the_service_will_not_start_on_a_bad_file(tmp_path):
    bad = tmp_path / "deadlines.toml"
    bad.write_text(DEFAULT.replace("ask_about_extension_days_before_end = 60", "ask_about_extension_days_before_end = 20"))
    with pytest.raises(ValueError, match=r"line \d+: secondment: ask_about_extension_days_before_end must come before"):
        Settings(deadlines_file=str(bad))
    with pytest.raises(ValueError, match="cannot read the deadlines file"):
        Settings(deadlines_file=str(tmp_path / "missing.toml"))
