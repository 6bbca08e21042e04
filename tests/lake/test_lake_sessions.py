"""Sessions and login throttling on a lake (MERGE for the throttle upsert, no primary keys)."""

from tests.unit.test_sessions_and_login import (  # noqa: F401 - collected here with the lake fixture
    fast_bcrypt,
    test_an_unknown_user_is_throttled_exactly_like_a_known_one,
    test_disable_role_change_reset_and_logout_end_every_session_of_the_user,
)
