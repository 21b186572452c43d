"""Sessions: state, files in and out, figures, and the life of a session across executions."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("sandbox")

from sandbox import sessions  # noqa: E402


def test_state_persists_across_executions():
    first = sessions.execute("thread-1", "import math\nx = 41")
    second = sessions.execute("thread-1", "print(x + 1, math.pi > 3)")
    assert first.fresh_session and not second.fresh_session
    assert second.error is None
    assert second.logs == "42 True\n"


def test_a_trailing_expression_is_shown_like_a_notebook_cell():
    result = sessions.execute("thread-1", "print('before')\n6 * 7")
    assert result.logs == "before\n42\n"
