"""Discord's limits and this bot's own caps, named in one place.

Discord's numbers come from https://discord.com/developers/docs (messages, embeds,
components, interactions); Discord answers 400 when a message breaks them, so every
formatter sizes its output against these constants instead of literals.
"""

from __future__ import annotations

from typing import Final

# Messages ---------------------------------------------------------------------
MAX_CONTENT: Final = 2000  # characters of message content
MAX_EMBEDS: Final = 10  # embeds per message
MAX_EMBED_TITLE: Final = 256
MAX_EMBED_DESCRIPTION: Final = 4096
MAX_EMBED_FOOTER: Final = 2048
MAX_EMBED_TOTAL: Final = 6000  # title + description + fields + footer + author, all embeds of a message

# Components ---------------------------------------------------------------------
MAX_BUTTONS_PER_ROW: Final = 5
MAX_ROWS: Final = 5
MAX_BUTTON_LABEL: Final = 80
MAX_CUSTOM_ID: Final = 100

# Interactions -------------------------------------------------------------------
ACK_DEADLINE_S: Final = 3.0  # an interaction must be acknowledged (or deferred) within this
MAX_AUTOCOMPLETE_CHOICES: Final = 25
MAX_CHOICE_NAME: Final = 100
MAX_CHOICE_VALUE: Final = 100

# Channels -----------------------------------------------------------------------
MAX_THREAD_NAME: Final = 100

# This bot's own caps (not Discord's) ---------------------------------------------
MAX_ANSWER_MESSAGES: Final = 4  # an answer longer than this many messages is cut, and says so
EXCERPT_CHARS: Final = 600  # quoted excerpt in a citation embed; "Show paragraph" gives the rest
MIN_EDIT_INTERVAL_S: Final = 1.0  # a streamed answer may edit its message at most once per second
THREAD_CONVERSATIONS: Final = 500  # threads whose turns are kept in memory (least recent dropped)
THREAD_HISTORY_MESSAGES: Final = 50  # messages read back to rebuild a thread's turns after a restart
AUTOCOMPLETE_CACHE_S: Final = 10.0  # how long autocomplete reuses the document list
REMEMBERED_COMPARISONS: Final = 200  # /compare results whose "Show more" buttons still work
DOCUMENTS_PER_PAGE: Final = 20  # /documents lines per page: 20 full-length lines fit one embed description
