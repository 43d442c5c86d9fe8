"""Questions asked by @mentioning the bot, answered in a thread that then holds the conversation.

A mention in a server channel starts a public thread from the question and answers there.
Later messages in that thread are follow-ups: they are answered with the thread's earlier
turns, so "and what about space?" means what the thread was talking about. Reading those
follow-ups needs the Message Content intent; without it, follow-ups must @mention the bot
(Discord always shows a bot the messages that mention it).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord

from bot.discord import limits
from bot.discord.formatting import question_text, thread_name
from bot.discord.replies import ChannelReply, reporting_failures
from prompts import ABSTAIN_PHRASE
from qa.types import Answer, Conversation

if TYPE_CHECKING:
    from bot.discord.answering import Answering
    from bot.discord.commands import StatementCommands

log = logging.getLogger("statementbot.discord")

EMPTY_MENTION_HELP = "Ask me something after the mention, e.g. “@{name} What do the ministers say about cyber?”"


@dataclass
class _Chat:
    conversation: Conversation = field(default_factory=Conversation)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one answer at a time per thread
    restored: bool = False  # earlier turns read back from the thread (after a restart) or none to read


class MentionHandler:
    def __init__(self, *, answering: Answering, commands: StatementCommands) -> None:
        self.answering = answering
        self.commands = commands  # shares the question checks (length cap, cooldown)
        self._chats: OrderedDict[int, _Chat] = OrderedDict()

    def chat(self, channel_id: int) -> _Chat:
        """The conversation of a thread (or DM), least recently used ones forgotten."""
        chat = self._chats.pop(channel_id, None) or _Chat()
        self._chats[channel_id] = chat
        while len(self._chats) > limits.THREAD_CONVERSATIONS:
            self._chats.popitem(last=False)
        return chat

    async def on_message(self, message: discord.Message, me: discord.ClientUser) -> None:
        if message.author.bot or message.author.id == me.id:
            return
        channel = message.channel
        mentioned = any(user.id == me.id for user in message.mentions)
        our_thread = isinstance(channel, discord.Thread) and channel.owner_id == me.id
        direct = isinstance(channel, discord.DMChannel)
        if not (mentioned or our_thread or direct):
            return
        question = question_text(message.content)
        if not question:
            # A bare mention gets a hint. Anything else empty is a follow-up whose text Discord
            # withheld (no Message Content intent): there is nothing to answer.
            if mentioned:
                await ChannelReply(channel, reference=message).fail(EMPTY_MENTION_HELP.format(name=me.name))
            return
        if refusal := self.commands.question_refusal(question, message.author.id):
            await ChannelReply(channel, reference=message).fail(refusal)
            return
        reply, chat_id = await self._destination(message, question)
        # Outside a thread or DM there is no conversation to continue: answer on its own.
        chat = self.chat(chat_id) if chat_id is not None else _Chat(restored=True)
        if reply.channel is not channel:
            chat.restored = True  # a thread just started from this question has no history yet
        async with reporting_failures(reply, action="answering your question"):
            async with chat.lock, reply.channel.typing():
                if not chat.restored:
                    chat.restored = True
                    if our_thread and isinstance(channel, discord.Thread):
                        await restore_turns(chat.conversation, channel, before=message, me=me)
                answer = await self.answering.answer_for(
                    question, conversation=chat.conversation, preview=reply.preview
                )
                await reply.send(await self.answering.messages_for(answer))
            log.info("answered a mention in %.0f ms (turn %d)", answer.latency_ms, len(chat.conversation))

    async def _destination(self, message: discord.Message, question: str) -> tuple[ChannelReply, int | None]:
        """Where to answer, and the id of the conversation it continues (None: a one-off answer).

        A server channel gets a new thread started from the question; a thread or a DM is
        answered in place and is itself the conversation.
        """
        channel = message.channel
        if isinstance(channel, discord.Thread | discord.DMChannel):
            return ChannelReply(channel), channel.id
        if isinstance(channel, discord.TextChannel):
            try:
                thread = await message.create_thread(name=thread_name(question))
            except discord.HTTPException as error:
                log.warning(
                    "cannot start a thread in #%s (%s); answering in the channel. "
                    "Grant the bot Create Public Threads and Send Messages in Threads.",
                    channel.name,
                    error.status,
                )
            else:
                return ChannelReply(thread), thread.id
        return ChannelReply(channel, reference=message), None


async def restore_turns(
    conversation: Conversation, thread: discord.Thread, *, before: discord.Message, me: discord.ClientUser
) -> None:
    """Read a thread's earlier questions and answers back into `conversation` (after a restart).

    The first question is the message the thread was started from (same id); then each
    person's message is a question and the bot's messages after it are its answer. Needs
    Read Message History; without it the follow-up is answered on its own.
    """
    turns: list[tuple[str, list[str]]] = []
    try:
        if isinstance(thread.parent, discord.TextChannel):  # our threads start from a question there
            starter = await thread.parent.fetch_message(thread.id)
            turns.append((question_text(starter.content), []))
        history = [m async for m in thread.history(limit=limits.THREAD_HISTORY_MESSAGES, before=before)]
    except discord.HTTPException as error:
        log.warning("cannot read the history of thread %s (%s); answering without it", thread.id, error.status)
        return
    for message in reversed(history):  # oldest first
        if message.author.id == me.id:
            if turns and message.content:
                turns[-1][1].append(message.content)
        elif not message.author.bot and (question := question_text(message.content)):
            turns.append((question, []))
    for question, parts in turns[-(conversation.turns.maxlen or len(turns)) :]:
        if question and parts:
            text = "\n".join(parts)
            conversation.add(question, Answer(question, text, (), abstained=text.startswith(ABSTAIN_PHRASE)))
    log.info("restored %d earlier turn(s) of thread %s", len(conversation), thread.id)
