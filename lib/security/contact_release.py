"""The one place where contact values leave the app unmasked: approved contact exports (#18).

Everywhere else, readers mask contacts for roles without `view_contact_pii`
(lib/security/privacy.py mask_frame). A campaign's approved contact list is the exception the
issue asks for: an SMS or e-mail tool needs the real number or address. This function is that
exception's gate: it checks `export_contacts`, keeps only the columns the channel needs
(customer id, name and the one contact column) and refuses anything else, so a caller cannot
widen an export by passing more columns.
"""

from __future__ import annotations

import pandas as pd

from lib.security import auth

# channel -> the one contact column it needs
CHANNEL_CONTACT = {"sms": "mobile", "email": "email", "phone": "mobile"}
IDENTITY_COLUMNS = ("customer_id", "full_name")


class ReleaseError(ValueError):
    """A frame that is not a contact list for the channel."""


def columns_for(channel: str) -> list[str]:
    if channel not in CHANNEL_CONTACT:
        raise ReleaseError(f"Unknown channel {channel!r}.")
    return [*IDENTITY_COLUMNS, CHANNEL_CONTACT[channel]]


@auth.pii_reader("export_contacts")
def release_contacts(user: auth.User, frame: pd.DataFrame, channel: str) -> pd.DataFrame:
    """The frame's contact values in clear, only the channel's columns (in a fixed order)."""
    auth.require(user, "export_contacts")
    wanted = columns_for(channel)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ReleaseError(f"A {channel} contact list needs the columns {', '.join(missing)}.")
    return frame.loc[:, wanted].reset_index(drop=True)
