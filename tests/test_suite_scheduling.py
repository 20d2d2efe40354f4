"""The suite's own scheduler (tests/conftest.py): the slow scopes it hands out first still exist."""

from pathlib import Path

from tests.conftest import SCOPE_SECONDS, SESSION_WORLD_SCOPE, session_world_modules

ROOT = Path(__file__).resolve().parent.parent


def test_every_timed_scope_is_a_test_module_or_the_session_world():
    missing = [scope for scope in SCOPE_SECONDS if scope != SESSION_WORLD_SCOPE and not (ROOT / scope).is_file()]
    assert missing == []


def test_modules_on_the_session_world_are_timed_with_it_not_alone():
    modules = session_world_modules()
    assert {"tests/test_end_to_end.py", "tests/test_app_browser.py"} <= modules
    assert "tests/test_faults.py" not in modules and "tests/test_suite_scheduling.py" not in modules
    assert not modules & set(SCOPE_SECONDS)
