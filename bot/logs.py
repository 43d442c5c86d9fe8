"""`-v` / `-vv`: what statementbot's own loggers say, on stderr.

`-v` shows INFO (ingest progress, answers given, fallbacks); `-vv` shows DEBUG: for every
question the retrieval's top hits and how each ranking contributed, and the answerer's
decision with the best evidence's features and the threshold it was held to. Third-party
libraries stay at WARNING, however verbose we are. Secrets never reach a log: the Discord
front end adds its redaction filter (`bot/discord/app.py`) to every root handler, this one included.
"""

from __future__ import annotations

import logging
import sys

# Our packages' loggers (named after their modules) and the Discord front end's.
OWN_LOGGERS = ("bot", "qa", "vectorstore", "ingest", "statementbot")
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def level_for(verbosity: int) -> int:
    """0 -> WARNING, 1 (-v) -> INFO, 2 or more (-vv) -> DEBUG."""
    return (logging.WARNING, logging.INFO)[verbosity] if verbosity < 2 else logging.DEBUG


def configure_logging(verbosity: int) -> None:
    """Send our loggers' records at the level `verbosity` asks for to stderr; nothing when it is 0."""
    if verbosity <= 0:
        return
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level_for(verbosity))
