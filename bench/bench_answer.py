"""Answer latency: warm per-question, cold start of the CLI, and at 100k paragraphs.

    python bench/bench_answer.py                       # all three parts
    python bench/bench_answer.py --parts scale --paragraphs 20000
    python bench/bench_answer.py --cache-dir /tmp/sb-bench   # reuse the built corpus next time

(a) warm: the dev questions and tests/data/sample_questions.jsonl, asked once
    as warm-up, then `--rounds` times through `StatementService.ask` on the
    sample statement; p50/p95 of the wall time of each call.
(b) cold: `statementbot ask "..."` as a subprocess on an already-ingested data
    directory (wall time, best and median of `--cold-runs`), `statementbot --help`
    for comparison, and the slowest imports from `python -X importtime`.
(c) scale: the same questions on a corpus of `--paragraphs` synthetic statement
    paragraphs (default 100,000) plus the sample statement.

The scale corpus is NOT ingested through the indexer: embedding 100k
paragraphs and ~350k sentences with MiniLM on two CPU cores takes hours.
Instead a pool of ~3,000 generated statement sentences is embedded once;
each synthetic paragraph is 2-5 pool sentences, its sentence vectors are the
pool's (exact), and its paragraph vector is the normalised sum of them (an
approximation of embedding the whole paragraph). These are written straight
into the store with `add_sentences` / `add_chunks` in large batches, then
document records last, as the indexer does. Chroma's HNSW indexes, the BM25
index and every query path are the real ones; only the vectors' provenance is
a shortcut. Pool sentences repeat (each ~100 times at 100k), which makes the
lexical index a little harder than real text, not easier. The built corpus is
cached under `--cache-dir` and reused when the parameters match.

Not part of the test suite; prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.runtime import build_service  # noqa: E402 - after the path tweak, so the bench runs from a checkout
from bot.settings import load_settings  # noqa: E402
from errors import StatementbotError  # noqa: E402
from ingest.models import Chunk, Paragraph, Span, content_hash  # noqa: E402
from qa.evaluation import EvalQuestion, load_questions, percentile, run_evaluation  # noqa: E402
from qa.service import StatementService  # noqa: E402
from vectorstore.store import DocumentRecord, ParagraphStore, paragraph_key  # noqa: E402

SAMPLE_QUESTIONS = ROOT / "tests" / "data" / "sample_questions.jsonl"
DEV_QUESTIONS = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"
COLD_QUESTION = "When is GCAP meant to be delivered?"
GENERATOR_VERSION = 1  # bump when the generator changes, to invalidate cached corpora
POOL_SIZE = 3000
PARAGRAPHS_PER_DOCUMENT = 20
WRITE_BATCH = 5000  # paragraphs per add_chunks call (the store splits further for Chroma)


# Output --------------------------------------------------------------------
ROWS: list[tuple[str, str, str]] = []


def record(part: str, what: str, value: str) -> None:
    ROWS.append((part, what, value))
    print(f"  {what:<58} {value}", flush=True)


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} ms"


def latency_figures(part: str, samples: Sequence[float]) -> None:
    # Other work on the machine skews CPU-bound timings; say how busy it was.
    record(part, "load average (1 min) after timing", f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    record(part, "questions timed", f"{len(samples)}")
    record(part, "p50", ms(percentile(samples, 50)))
    record(part, "p95", ms(percentile(samples, 95)))
    record(part, "mean / max", f"{ms(statistics.fmean(samples))} / {ms(max(samples))}")


def print_table() -> None:
    print("\n" + "=" * 90)
    print(f"{'part':<8} {'figure':<58} value")
    print("-" * 90)
    for part, what, value in ROWS:
        print(f"{part:<8} {what:<58} {value}")
    print("=" * 90)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {sys.platform}")


@contextmanager
def stage(title: str) -> Any:
    print(f"\n== {title}", flush=True)
    started = time.perf_counter()
    yield
    print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)


# Shared ----------------------------------------------------------------------
def open_service(data_dir: Path) -> StatementService:
    return build_service(load_settings(data_dir=data_dir))


def questions(paths: Sequence[Path]) -> list[EvalQuestion]:
    found: list[EvalQuestion] = []
    for path in paths:
        found += load_questions(path)
    return found


def time_questions(
    service: StatementService, items: Sequence[EvalQuestion], rounds: int, *, uncached: bool = False
) -> tuple[list[float], list[float]]:
    """(warm-up wall times, timed wall times in ms); each question asked in a fresh conversation.

    `uncached` empties the retriever's in-process caches before each question
    (untimed), as if every question reached paragraphs no earlier one had.
    """

    def one(question: EvalQuestion) -> float:
        if uncached:
            service.retriever.clear_caches()
        started = time.perf_counter()
        with contextlib.suppress(StatementbotError):  # an invalid question is still a timed round trip
            service.ask(question.question)
        return (time.perf_counter() - started) * 1000

    warm_up = [one(q) for q in items]
    timed = [one(q) for _ in range(rounds) for q in items]
    return warm_up, timed


# (a) warm --------------------------------------------------------------------
def bench_warm(data_dir: Path, items: Sequence[EvalQuestion], rounds: int) -> None:
    with stage(f"(a) warm latency: {len(items)} questions x {rounds} rounds on the sample statement"):
        started = time.perf_counter()
        service = open_service(data_dir)
        service.ensure_corpus()
        record("warm", "open service + first-use ingest", f"{time.perf_counter() - started:.1f} s")
        try:
            warm_up, timed = time_questions(service, items, rounds)
        finally:
            service.close()
        record("warm", "first question after first-use ingest", ms(warm_up[0]))
        latency_figures("warm", timed)


# (b) cold --------------------------------------------------------------------
def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "statementbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def bench_cold(data_dir: Path, runs: int, importtime: bool) -> None:
    env = {**os.environ, "STATEMENTBOT_DATA_DIR": str(data_dir), "TOKENIZERS_PARALLELISM": "false"}
    with stage(f"(b) cold start: `statementbot ask` as a subprocess, {runs} runs, data already ingested"):

        def wall(args: list[str], extra: list[str] | None = None) -> float:
            started = time.perf_counter()
            done = subprocess.run(
                [*(extra or cli_command()), *args], env=env, capture_output=True, text=True, check=False
            )
            elapsed = time.perf_counter() - started
            if done.returncode != 0:
                raise SystemExit(f"statementbot {' '.join(args)} failed:\n{done.stderr}")
            return elapsed

        record("cold", "statementbot --help", f"{wall(['--help']):.2f} s")
        times = [wall(["ask", COLD_QUESTION]) for _ in range(runs)]
        record("cold", f"statementbot ask (best of {runs})", f"{min(times):.2f} s")
        record("cold", f"statementbot ask (median of {runs})", f"{statistics.median(times):.2f} s")
        for name, seconds in cold_breakdown(env).items():
            record("cold", f"  in a fresh process: {name}", f"{seconds:.2f} s")
        if importtime:
            for name, seconds in import_offenders(env):
                record("cold", f"import {name}", f"{seconds:.2f} s")


_BREAKDOWN = """
import json, sys, time
started = time.perf_counter()
marks = {}
def mark(name):
    marks[name] = time.perf_counter() - started - sum(marks.values())
import bot.cli
from bot.runtime import build_service
from bot.settings import load_settings
mark("import the CLI")
service = build_service(load_settings())
mark("build_service (open Chroma)")
service.ensure_corpus()
mark("ensure_corpus (store already filled)")
service.store.embedder.encode(["warm up"])
mark("load the embedding model")
service.ask(sys.argv[1])
mark("first ask (imports, BM25 cache)")
service.ask(sys.argv[1])
mark("second ask")
print(json.dumps(marks))
"""


def cold_breakdown(env: dict[str, str]) -> dict[str, float]:
    """Where a cold `ask` spends its time, stage by stage, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _BREAKDOWN, COLD_QUESTION],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"cold breakdown failed:\n{done.stderr}")
    return {str(k): float(v) for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def import_offenders(env: dict[str, str], top: int = 6) -> list[tuple[str, float]]:
    """Top-level packages by cumulative import time during one `ask`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot.cli", "ask", COLD_QUESTION],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    totals: dict[str, float] = {}
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if match and not match[2]:  # top level: no indentation
            package = match[3].split(".")[0]
            totals[package] = max(totals.get(package, 0.0), int(match[1]) / 1e6)
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)[:top]


# (c) scale -------------------------------------------------------------------
COUNTRIES = """Australia Brazil Canada Chile Denmark Estonia Finland France Germany Greece India Indonesia Italy
Kenya Latvia Lithuania Malaysia Mexico Netherlands Norway New-Zealand Nigeria Philippines Poland Portugal Romania
Singapore South-Africa South-Korea Spain Sweden Thailand Turkey Ukraine Vietnam Argentina Belgium Czechia Ireland
Morocco""".split()
TOPICS = """maritime security|cyber defence|space situational awareness|defence logistics|counter-terrorism|
integrated air and missile defence|humanitarian assistance and disaster relief|military medicine|defence procurement|
critical minerals supply chains|naval shipbuilding|submarine rescue|hydrographic survey|peacekeeping training|
mine countermeasures|unmanned aerial systems|electronic warfare|military education exchanges|defence industrial
cooperation|research and development|artificial intelligence in defence|quantum technologies|undersea cables|
climate security|nuclear non-proliferation|arms control|export controls|intelligence sharing|special forces
training|pilot training|air policing|coastal surveillance|border security|energy security|military mobility|
ammunition production|armoured vehicles|combat air systems|long-range fires|hypersonic threats|chemical and
biological defence|cadet exchanges|veterans affairs|defence diplomacy|capacity building|port visits|joint staff
talks|search and rescue|Arctic security|Pacific Islands engagement|women in the armed forces|reserve forces""".replace(
    "\n", " "
).split("|")
VERBS = """welcomed|reaffirmed their commitment to|noted progress on|highlighted the importance of|agreed to deepen|
expressed their intention to expand|looked forward to further work on|recognised the value of|discussed|
committed to strengthening|reviewed cooperation on|stressed the need for""".replace("\n", "").split("|")
SUBJECTS = ["The Ministers", "Both Ministers", "The two sides", "The delegations", "The Defence Ministers", "They"]
QUALIFIERS = [
    "in the Indo-Pacific",
    "in the Euro-Atlantic area",
    "across the Baltic region",
    "in the Mediterranean",
    "in the Gulf",
    "through regular bilateral exercises",
    "through the annual staff talks",
    "under the framework agreement signed in {year}",
    "by the end of {year}",
    "before {year}",
    "with industry partners",
    "alongside NATO allies",
    "with regional partners",
    "through a new working group",
    "at the ministerial meeting in {city}",
]
CITIES = "Canberra Ottawa Paris Berlin Rome Madrid Warsaw Oslo Seoul Manila Jakarta Nairobi Lisbon Athens Riga".split()
EXERCISES = "Northern Shield|Pacific Vanguard|Steadfast Harbour|Iron Lantern|Coastal Guardian|Silver Meridian".split(
    "|"
)
EXTRA = [
    "This cooperation will be reviewed at the next meeting.",
    "They tasked officials to report on progress within a year.",
    "The Ministers welcomed participation in Exercise {exercise} {year}.",
    "They agreed to hold the next dialogue in {city} in {year}.",
    "The Ministers condemned actions that undermine regional stability.",
    "Both sides will exchange liaison officers to support this work.",
]


def sentence_pool(rng: random.Random, size: int) -> list[str]:
    pool: dict[str, None] = {}
    while len(pool) < size:
        slots = {
            "year": str(rng.randint(2018, 2032)),
            "city": rng.choice(CITIES),
            "exercise": rng.choice(EXERCISES),
        }
        if rng.random() < 0.15:
            sentence = rng.choice(EXTRA).format(**slots)
        else:
            qualifier = rng.choice(QUALIFIERS).format(**slots)
            sentence = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(TOPICS).strip()} {qualifier}."
        pool[re.sub(r"\s+", " ", sentence)] = None
    return list(pool)


def pool_vectors(cache: Path, pool: list[str], store: ParagraphStore) -> np.ndarray:
    path = cache / f"pool-{GENERATOR_VERSION}-{len(pool)}.npy"
    if path.exists():
        vectors = np.load(path)
        if vectors.shape == (len(pool), store.embedder.dimension):
            return vectors
    vectors = store.embedder.encode(pool)
    np.save(path, vectors)
    return vectors


class _Batch:
    """Paragraph windows and sentences waiting to be written, with their vectors."""

    def __init__(self, store: ParagraphStore, pool_vectors: np.ndarray) -> None:
        self.store = store
        self.pool_vectors = pool_vectors
        self.chunks: list[Chunk] = []
        self.vectors: list[np.ndarray] = []
        self.rows: list[tuple[str, str, str, int, Span, str]] = []
        self.sentence_picks: list[int] = []

    def add(self, paragraph: Paragraph, picks: list[int]) -> np.ndarray:
        """Queue a paragraph made of pool sentences `picks`; returns its (composed) vector."""
        combined = self.pool_vectors[picks].sum(axis=0)
        combined = (combined / np.linalg.norm(combined)).astype(np.float32)
        self.chunks.append(Chunk(paragraph, 0, paragraph.text, (0, len(picks))))
        self.vectors.append(combined)
        for index, (span, sentence) in enumerate(zip(paragraph.sentences, paragraph.sentence_texts(), strict=True)):
            self.rows.append((paragraph.doc_id, paragraph.label, paragraph.hash, index, span, sentence))
        self.sentence_picks.extend(picks)
        return combined

    def flush(self) -> None:
        if not self.chunks:
            return
        # Sentences first, then windows, as the indexer orders its writes.
        self.store.add_sentences(self.rows, self.pool_vectors[self.sentence_picks])
        keys = [paragraph_key(c.paragraph.doc_id, c.paragraph.label, c.paragraph.hash) for c in self.chunks]
        self.store.add_chunks(self.chunks, np.stack(self.vectors), windows=dict.fromkeys(keys, 1))
        self.chunks, self.vectors, self.rows, self.sentence_picks = [], [], [], []


def synthetic_paragraph(rng: random.Random, pool: list[str], doc_id: str, position: int) -> tuple[Paragraph, list[int]]:
    picks = rng.sample(range(len(pool)), rng.randint(2, 5))
    texts = [pool[i] for i in picks]
    spans, offset = [], 0
    for sentence in texts:
        spans.append(Span(offset, offset + len(sentence)))
        offset += len(sentence) + 1
    return Paragraph(doc_id, str(position + 1), position, " ".join(texts), tuple(spans)), picks


def build_scale_corpus(service: StatementService, cache: Path, paragraphs: int, seed: int) -> dict[str, float]:
    """Write `paragraphs` synthetic paragraphs into the service's store (see the module docstring)."""
    rng = random.Random(seed)
    store = service.store
    timings: dict[str, float] = {}
    started = time.perf_counter()
    pool = sentence_pool(rng, POOL_SIZE)
    vectors = pool_vectors(cache, pool, store)
    timings["embed sentence pool"] = time.perf_counter() - started
    started = time.perf_counter()
    batch = _Batch(store, vectors)
    records: list[DocumentRecord] = []
    title_vectors: list[np.ndarray] = []
    written = 0
    for number in range((paragraphs + PARAGRAPHS_PER_DOCUMENT - 1) // PARAGRAPHS_PER_DOCUMENT):
        first, second = rng.sample(COUNTRIES, 2)
        day = date(2015, 1, 1) + timedelta(days=rng.randint(0, 365 * 11))
        doc_id = f"synthetic-{number:05d}-{first.lower()}-{second.lower()}"
        count = min(PARAGRAPHS_PER_DOCUMENT, paragraphs - written)
        doc_vector = np.zeros(vectors.shape[1], dtype=np.float32)
        for position in range(count):
            doc_vector += batch.add(*synthetic_paragraph(rng, pool, doc_id, position))
        written += count
        records.append(
            DocumentRecord(
                id=doc_id,
                title=f"{first.replace('-', ' ')}-{second.replace('-', ' ')} Defence Ministerial Meeting {day.year}",
                date=day,
                source=f"synthetic://{doc_id}",
                content_hash=content_hash(f"{doc_id}:{seed}"),
                paragraphs=count,
                ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
                numbered=True,
            )
        )
        title_vectors.append(doc_vector / max(float(np.linalg.norm(doc_vector)), 1e-9))
        if len(batch.chunks) >= WRITE_BATCH:
            batch.flush()
            print(f"   wrote {written:,}/{paragraphs:,} paragraphs ({time.perf_counter() - started:.0f} s)", flush=True)
    batch.flush()
    # Records last: a document record means "fully ingested".
    put_documents = getattr(store, "put_documents", None)
    if put_documents is not None:
        put_documents(records, np.stack(title_vectors))
    else:  # older store API: one record at a time
        for item, vector in zip(records, title_vectors, strict=True):
            store.put_document(item, vector)
    timings["write paragraphs, sentences, records"] = time.perf_counter() - started
    return timings


def bench_scale(cache: Path, items: Sequence[EvalQuestion], paragraphs: int, rounds: int, seed: int) -> None:
    data_dir = cache / f"corpus-{paragraphs}-seed{seed}-v{GENERATOR_VERSION}"
    marker = data_dir / "built.json"
    with stage(f"(c) scale: {paragraphs:,} synthetic paragraphs + the sample statement"):
        if not marker.exists():
            shutil.rmtree(data_dir, ignore_errors=True)  # a half-built corpus from an interrupted run
            service = open_service(data_dir)
            try:
                timings = build_scale_corpus(service, cache, paragraphs, seed)
                service.ingest_paths([service.sample_dir] if service.sample_dir else [])
            finally:
                service.close()
            marker.write_text(json.dumps({"paragraphs": paragraphs, "seed": seed, "timings": timings}))
            for name, seconds in timings.items():
                record("scale", f"build: {name}", f"{seconds:.0f} s")
        else:
            record("scale", "build", f"cached in {data_dir}")
        started = time.perf_counter()
        service = open_service(data_dir)
        record("scale", "open service", f"{time.perf_counter() - started:.1f} s")
        try:
            stored = service.store.count_paragraphs()
            record("scale", "paragraphs in store", f"{stored:,}")
            started = time.perf_counter()
            service.retriever.lexical.ensure_fresh()
            record("scale", "BM25 index load/rebuild", f"{time.perf_counter() - started:.1f} s")
            warm_up, timed = time_questions(service, items, rounds, uncached=True)
            record("scale", "first question (warm-up)", ms(warm_up[0]))
            record("scale", "caches", "emptied before each question (the worst case)")
            latency_figures("scale", timed)
            _, cached = time_questions(service, items, 1)
            warm = f"{ms(percentile(cached, 50))} / {ms(percentile(cached, 95))}"
            record("scale", "p50 / p95 with warm caches", warm)
            summary = run_evaluation(service, items)
            figures = summary.to_json()
            # Abstention is not reported here: the synthetic statements are on-topic, so some
            # "unanswerable" questions (India, climate) do get an answer from them.
            retrieval = figures["retrieval"]
            record(
                "scale",
                "retrieval hit@1 / hit@5 / MRR",
                f"{retrieval['hit@1']} / {retrieval['hit@5']} / {retrieval['mrr']}",
            )
            record("scale", "gold paragraph cited", f"{figures['citations']['gold_cited']}")
        finally:
            service.close()
        record("scale", "peak RSS of this process", peak_rss())


def peak_rss() -> str:
    import resource

    kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return f"{kilobytes / 1024 / 1024:.1f} GiB"


# Main ------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="warm,cold,scale", help="comma-separated: warm, cold, scale")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds over the questions (after warm-up)")
    parser.add_argument("--cold-runs", type=int, default=3, help="subprocess runs for the cold start")
    parser.add_argument("--no-importtime", action="store_true", help="skip the -X importtime run")
    parser.add_argument("--paragraphs", type=int, default=100_000, help="size of the synthetic corpus")
    parser.add_argument("--seed", type=int, default=2025, help="seed of the synthetic corpus")
    parser.add_argument("--cache-dir", type=Path, help="keep the synthetic corpus here between runs")
    parser.add_argument(
        "--questions", type=Path, action="append", help="question files (default: dev set + sample set)"
    )
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    unknown = parts - {"warm", "cold", "scale"}
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    paths = args.questions or [p for p in (DEV_QUESTIONS, SAMPLE_QUESTIONS) if p.exists()]
    items = questions(paths)
    print(f"questions: {len(items)} from {', '.join(str(p) for p in paths)}")
    with tempfile.TemporaryDirectory(prefix="statementbot-bench-") as scratch:
        sample_dir = Path(scratch) / "data"
        if "warm" in parts:
            bench_warm(sample_dir, items, args.rounds)  # also ingests the sample for the cold runs
        elif "cold" in parts:
            prepare(sample_dir)
        if "cold" in parts:
            bench_cold(sample_dir, args.cold_runs, not args.no_importtime)
        if "scale" in parts:
            cache = args.cache_dir or Path(scratch) / "scale"
            cache.mkdir(parents=True, exist_ok=True)
            bench_scale(cache, items, args.paragraphs, args.rounds, args.seed)
    print_table()
    return 0


def prepare(data_dir: Path) -> None:
    """Ingest the sample statement so the cold runs measure start-up, not first use."""
    service = open_service(data_dir)
    try:
        service.ensure_corpus()
    finally:
        service.close()


if __name__ == "__main__":
    sys.exit(main())
