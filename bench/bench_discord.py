"""First Discord answer vs the next ones, through the real bot process and a local fake Discord.

The bot runs as production runs it (`statementbot discord`: open the store, warm the model
and caches, connect) in a child process whose discord.py is pointed at the fake Discord API
of `tests/fake_discord` on 127.0.0.1, with a store holding the bundled sample statement. Once
the bot says it is ready, `/ask` is sent N times in a row (different questions from the dev
set); each latency runs from dispatching the interaction to the answer's last message
reaching Discord. Prints the first answer against the median of the rest, for each start of
the bot (each start begins at another question, so the first is not always the same one),
the bot's own answer times from its log, and the bot process's RSS (now and peak). The first
question is asked once more at the end: the same question without the start-up behind it.
`--cold` adds a start with `StatementService.warm` switched off in the child, to show what
the warm-up saves.

    .venv/bin/python bench/bench_discord.py [--questions 10] [--starts 3] [--cold] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fake_discord import FakeDiscord, FakeDiscordTimeoutError  # noqa: E402

DATA_DIR = Path("/tmp/statementbot-bench-discord")  # kept between runs, like the other benches
QUESTIONS = REPO.parent / "shared" / "eval" / "dev_questions.jsonl"
SAMPLES = REPO / "bot" / "samples"
READY_TIMEOUT_S = 300.0  # the model load on a loaded 2-core machine
ANSWER_TIMEOUT_S = 120.0
QUIET_S = 1.0  # no further message for this long: the answer is complete

# The bot process: discord.py's REST base and gateway point at the fake, then the real CLI entry point.
CHILD = """
import os, sys
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route
Route.BASE = os.environ["BENCH_DISCORD_API"]
DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["BENCH_DISCORD_GATEWAY"])
if os.environ.get("BENCH_NO_WARM"):  # --cold: what the first answer costs when nothing is warmed
    from qa.service import StatementService
    StatementService.warm = lambda self: 0.0
from bot.cli import main
sys.exit(main(["discord"]))
"""

_WARMED = re.compile(r"model and caches warmed in ([\d.]+) s")
_ANSWERED = re.compile(r"answered /ask in (\d+) ms")


@dataclass
class BotLog:
    """What the child writes on stderr, read as it comes."""

    lines: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            self.lines.append(text)
            if "connected as" in text:
                self.ready.set()

    def warmed_s(self) -> float | None:
        found = [float(m[1]) for line in self.lines if (m := _WARMED.search(line))]
        return found[-1] if found else None

    def answered_ms(self) -> list[int]:
        return [int(m[1]) for line in self.lines if (m := _ANSWERED.search(line))]


def memory_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return int(fields["VmRSS"][0]) / 1024, int(fields["VmHWM"][0]) / 1024


def prepare_store(data_dir: Path) -> None:
    """The sample statement in `data_dir` (a no-op when it is there), in a process of its own:
    the bot then opens an existing store, as it does on every start but the very first."""
    code = "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))"
    subprocess.run(
        [sys.executable, "-c", code, "--data-dir", str(data_dir), "ingest", str(SAMPLES)],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )


async def ask(fake: FakeDiscord, question: str) -> float:
    """Seconds from dispatching /ask to the last message of its answer."""
    since = fake.mark()
    interaction = fake.slash_command_interaction("ask", {"question": question})
    # Followups and edits of this interaction's messages (not its acknowledgement).
    hook = f"/webhooks/{fake.application_id}/{interaction['token']}"
    started = time.perf_counter()
    await fake.dispatch("INTERACTION_CREATE", interaction)
    finished: float | None = None
    timeout = ANSWER_TIMEOUT_S
    while True:
        try:
            request = await fake.wait_for_request(
                since=since, timeout=timeout, predicate=lambda r: r.path.startswith(hook) and r.status == 200
            )
        except FakeDiscordTimeoutError:
            if finished is None:
                raise
            return finished - started
        finished = time.perf_counter()
        since, timeout = request.index + 1, QUIET_S


async def one_start(fake: FakeDiscord, data_dir: Path, questions: list[str], *, warm: bool = True) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STATEMENTBOT_", "BENCH_"))}
    if not warm:
        env["BENCH_NO_WARM"] = "1"
    env |= {
        "DISCORD_TOKEN": fake.token,
        "BENCH_DISCORD_API": fake.api_base,
        "BENCH_DISCORD_GATEWAY": fake.gateway_url,
        "STATEMENTBOT_DATA_DIR": str(data_dir),
        "STATEMENTBOT_DISCORD_GUILD_ID": str(fake.guild.id),
        "STATEMENTBOT_DISCORD_COOLDOWN_S": "0",
    }
    spawned = time.perf_counter()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, cwd=REPO, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert child.stderr is not None
    log = BotLog()
    reading = asyncio.create_task(log.follow(child.stderr))
    try:
        await asyncio.wait_for(log.ready.wait(), READY_TIMEOUT_S)
        ready_s = time.perf_counter() - spawned
        latencies = [await ask(fake, question) for question in questions]
        # The first question once more: its cost without the start-up, whatever the question costs.
        again = await ask(fake, questions[0])
        rss, peak = memory_mb(child.pid)
    except BaseException:
        print("\n".join(log.lines[-30:]), file=sys.stderr)
        raise
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGINT)  # the bot's own way out: KeyboardInterrupt, exit 0
            try:
                await asyncio.wait_for(child.wait(), 30)
            except TimeoutError:
                child.kill()
                await child.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
    return {
        "ready_s": ready_s,
        "warmed_s": log.warmed_s(),
        "latencies_s": latencies,
        "first_again_s": again,
        "bot_ms": log.answered_ms(),
        "rss_mb": rss,
        "peak_rss_mb": peak,
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def report(label: str, result: dict[str, Any]) -> tuple[float, list[float], float]:
    first, *rest = result["latencies_s"]
    first_bot, *rest_bot = result["bot_ms"] or [0]
    print(
        f"{label}: ready after {result['ready_s']:.1f} s (warm-up {result['warmed_s']} s); "
        f"first answer {ms(first)}, the same question asked again {ms(result['first_again_s'])}, "
        f"median of the next {len(rest)} {ms(statistics.median(rest))} "
        f"(bot's own timing: first {first_bot} ms, median of the next {statistics.median(rest_bot or [0]):.0f} ms); "
        f"bot RSS {result['rss_mb']:.0f} MB, peak {result['peak_rss_mb']:.0f} MB",
        flush=True,
    )
    return first, rest, result["first_again_s"]


async def run(args: argparse.Namespace) -> None:
    all_questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    firsts, rests, agains = [], [], []
    async with FakeDiscord() as fake:
        for start in range(args.starts):
            # Each start begins at another question, so "first" is not one question's cost.
            rotated = all_questions[start:] + all_questions[:start]
            result = await one_start(fake, args.data_dir, rotated[: args.questions])
            first, rest, again = report(f"start {start + 1}", result)
            firsts.append(first)
            rests.extend(rest)
            agains.append(again)
        if args.cold:
            report("without warm-up", await one_start(fake, args.data_dir, all_questions[: args.questions], warm=False))
    print(
        f"all {args.starts} starts: first answer median {ms(statistics.median(firsts))} "
        f"(each: {', '.join(ms(f) for f in firsts)}; the same questions asked again: "
        f"{', '.join(ms(a) for a in agains)}); later answers median {ms(statistics.median(rests))}, "
        f"p95 {ms(statistics.quantiles(rests, n=20)[-1]) if len(rests) >= 2 else '-'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=10, help="/ask questions per start of the bot")
    parser.add_argument("--starts", type=int, default=3, help="times the bot process is started")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="store with the sample statement")
    parser.add_argument("--cold", action="store_true", help="one more start with the warm-up switched off")
    args = parser.parse_args()
    prepare_store(args.data_dir)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
