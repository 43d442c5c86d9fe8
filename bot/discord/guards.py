"""Who may do what, and how often: the admin rule and the per-user question cooldown."""

from __future__ import annotations

import time
from collections.abc import Callable

import discord


def is_admin(interaction: discord.Interaction, admin_role: str | None) -> bool:
    """Manage Server (Administrator implies it) or a role named `admin_role`; never in DMs.

    Checked in the bot on every call: a command's default permissions are only a hint that
    server admins can change.
    """
    member = interaction.user
    if interaction.guild is None or not isinstance(member, discord.Member):
        return False
    if interaction.permissions.manage_guild:
        return True
    return admin_role is not None and any(role.name == admin_role for role in member.roles)


class Cooldown:
    """At most one question per user every `seconds`; shared by /ask and mentions."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last: dict[int, float] = {}

    def retry_after(self, user_id: int) -> float:
        """0 and the question is counted, or the seconds the user still has to wait."""
        if self.seconds <= 0:
            return 0.0
        now = self._clock()
        last = self._last.get(user_id)
        if last is not None and now - last < self.seconds:
            return self.seconds - (now - last)
        self._last[user_id] = now
        if len(self._last) > 10_000:  # forget users whose cooldown is over
            self._last = {u: t for u, t in self._last.items() if now - t < self.seconds}
        return 0.0
