"""The real archive at scale: ingest, model throughput, recall of the nearest neighbours, answers.

    python bench/bench_archive.py                                   # the whole archive, both modes (hours on 2 cores)
    python bench/bench_archive.py --glob '2022-0[1-3]/*.md' --limit 300 --modes embedded
    python bench/bench_archive.py --limit 200 --ef 50,100,200,400 --skip-eval

For each mode (embedded: Chroma in a data directory; server: a real `chroma
run` this script starts on a free port), it ingests the archive slice
(`../shared/corpus/archive`, or --archive) and prints:

* documents, paragraphs, sentences, paragraphs/s, peak RSS (this process, and
  the server's), store size on disk, a no-op re-ingest's wall time;
* the model's raw throughput on the same texts (`encode` alone, tokens/s, at
  several batch sizes, the best one kept) next to the pipeline's tokens/s;
* dense recall@10 and @30 of Chroma's approximate search against exact
  brute-force cosine over the stored vectors, for paragraph windows and
  sentences, at each HNSW ef_search in --ef, with the query latency of each;
* with the 8 `real_dev` statements and the sample statement in the store:
  hit@1, citation precision, abstention and p50/p95 latency on
  `real_dev/questions.jsonl` and on the sample's `dev_questions.jsonl`, next to
  the same figures for their statements alone (the look-alike benchmark), and
  for real_dev again with `bench/judgements/real_dev_at_archive.jsonl`: the
  paragraphs of other statements a person read and judged for its questions
  (a fact the same day's fact sheet states again; a near-miss of the 8 that
  the archive answers), so the "judged" column counts those answers as right
  or wrong, and says how many cited paragraphs nobody has read.

Stores live under --work (default /tmp/statementbot-bench-archive) and are
reused, so a second run only re-measures. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import glob
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.runtime import build_service  # noqa: E402 - after the path tweak, so the bench runs from a checkout
from bot.settings import load_settings  # noqa: E402
from qa.evaluation import Judgement, load_judgements, load_questions, run_evaluation  # noqa: E402
from qa.service import StatementService  # noqa: E402
from vectorstore.embeddings import QUERY_TEXTS  # noqa: E402
from vectorstore.store import HNSW_SEARCH_EF  # noqa: E402

SHARED = ROOT.parent / "shared"
REAL_DEV = SHARED / "eval/real_dev"
CHROMA = Path(sys.executable).parent / "chroma"
BATCH_SIZES = (8, 16, 32, 64)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChromaServer:
    """A real `chroma run` on a free port, for server mode."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        path.mkdir(parents=True, exist_ok=True)
        self.log = (path.parent / f"{path.name}.log").open("wb")
        self.process = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        deadline = time.monotonic() + 60
        while not self._up():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"chroma run did not start; see {self.log.name}")
            time.sleep(0.3)

    def _up(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def open_service(mode: str, work: Path, name: str) -> tuple[StatementService, ChromaServer | None, Path]:
    if mode == "served":
        # The embedded store built above, served by a real `chroma run`: server-mode answering at
        # archive scale without a second hour of embedding. The lexical index stays in the data dir.
        server = ChromaServer(work / name / "chroma")
        settings = load_settings(data_dir=work / name, chroma_url=server.url)
        return build_service(settings), server, work / name
    if mode == "server":
        server = ChromaServer(work / f"{name}-server")
        settings = load_settings(data_dir=work / f"{name}-server-data", chroma_url=server.url)
        return build_service(settings), server, server.path
    data_dir = work / name
    return build_service(load_settings(data_dir=data_dir)), None, data_dir


def bot_rss(mode: str, work: Path, name: str, server: ChromaServer | None) -> str:
    """Peak RSS of a fresh process that opens the store as the bot does, warms up and answers real_dev."""
    env = {**os.environ, "STATEMENTBOT_DATA_DIR": str(work / name)}
    if server is not None:
        env["STATEMENTBOT_CHROMA_URL"] = server.url
    probe = subprocess.run(
        [sys.executable, __file__, "--rss-probe"], env=env, capture_output=True, text=True, check=False
    )
    return probe.stdout.strip() or f"probe failed: {probe.stderr.strip()[-300:]}"


def rss_probe() -> int:
    """Run inside bot_rss's child: the bot's start-up (build, warm) and one pass over the questions."""
    service = build_service(load_settings())
    service.warm()
    warm_mb = process_peak_rss_mb(os.getpid()) or 0
    for question in load_questions(REAL_DEV / "questions.jsonl"):
        service.ask(question.question)
    print(
        f"bot process: peak RSS {warm_mb:.0f} MB after warm-up, {process_peak_rss_mb(os.getpid()) or 0:.0f} MB"
        " after answering real_dev"
    )
    return 0


SAME_TEXTS = 10_000  # texts for the same-calls ceiling (a minute or two on 2 cores)


def model_throughput(service: StatementService, texts: list[str]) -> tuple[int, float, dict[int, float]]:
    """(tokens, best tokens/s, tokens/s by batch size) of `encode` alone on `texts`."""
    embedder = service.store.embedder
    tokens = sum(embedder.count_tokens(t) for t in texts)
    rates: dict[int, float] = {}
    saved = embedder.batch_size
    for batch in BATCH_SIZES:
        embedder.batch_size = batch
        started = time.perf_counter()
        embedder.encode(texts)
        rates[batch] = tokens / (time.perf_counter() - started)
    embedder.batch_size = saved
    return tokens, max(rates.values()), rates


def recall(service: StatementService, queries: list[str], efs: list[int], k_values: tuple[int, ...] = (10, 30)) -> None:
    """Recall@k of Chroma's HNSW against exact cosine over every stored vector, per ef_search."""
    store = service.store
    vectors = service.store.embedder.encode(queries)
    for kind in ("chunks", "sentences"):
        ids, matrix = store.stored_vectors(kind)
        if not ids:
            continue
        exact = np.argsort(-(vectors @ matrix.T), axis=1)[:, : max(k_values)]
        truth = [[ids[i] for i in row] for row in exact]
        for ef in efs:
            store.set_search_ef(ef)
            found: dict[int, list[float]] = {k: [] for k in k_values}
            times = []
            for vector, true_ids in zip(vectors, truth, strict=True):
                started = time.perf_counter()
                got = store.nearest_ids(kind, vector, max(k_values))
                times.append((time.perf_counter() - started) * 1000)
                for k in k_values:
                    found[k].append(len(set(got[:k]) & set(true_ids[:k])) / min(k, len(ids)))
            figures = "  ".join(f"recall@{k} {statistics.mean(v):.4f}" for k, v in found.items())
            print(
                f"  {kind:9} ({len(ids):,} vectors) ef_search {ef:4}: {figures}  "
                f"query p50 {statistics.median(times):.1f} ms p95 {np.percentile(times, 95):.1f} ms"
            )
    store.set_search_ef(HNSW_SEARCH_EF)


# (name, questions, the statements they are about): each set is scored on its statements alone and
# again with the archive slice beside them.
EVAL_SETS = (
    ("real_dev", REAL_DEV / "questions.jsonl", REAL_DEV / "docs"),
    ("sample dev", SHARED / "eval/dev_questions.jsonl", ROOT / "bot/samples"),
)
# Paragraphs of other statements read for a set's questions (`statementbot eval --judgements`).
JUDGEMENTS = {"real_dev": ROOT / "bench/judgements/real_dev_at_archive.jsonl"}


def evaluation(
    service: StatementService, path: Path, judgements: list[Judgement] | None = None
) -> dict[str, float | None]:
    questions = load_questions(path)
    summary = run_evaluation(service, questions, judgements).to_json()
    judged = summary["judgements"] or {}
    return {
        "hit@1": summary["retrieval"]["hit@1"],
        "citation precision": summary["citations"]["precision"],
        "gold cited": summary["citations"]["gold_cited"],
        # At archive scale the same fact is often stated by a sibling statement (the fact sheet of
        # the same day); an answer that quotes it there is right but cites no gold paragraph.
        "facts": summary["facts"]["rate"],
        "abstention": summary["abstention"]["accuracy"],
        "false abstentions": summary["abstention"]["false_abstentions"],
        "p50 ms": summary["latency_ms"]["p50"],
        "p95 ms": summary["latency_ms"]["p95"],
        "questions whose gold judgements changed": judged.get("questions_judged"),
        "cited paragraphs nobody judged": judged.get("unjudged_citations"),
    }


def print_beside(service: StatementService, name: str, questions: Path, alone: dict[str, float | None]) -> None:
    """A set's figures with the slice beside its statements, next to theirs alone (and judged, where judged)."""
    with_slice = evaluation(service, questions)
    judged_path = JUDGEMENTS.get(name)
    judged = evaluation(service, questions, load_judgements(judged_path)) if judged_path else None
    print(f"{name}: {'':38} {'alone':>10} {'with slice':>12}" + (f" {'judged':>12}" if judged else ""))
    for figure, value in with_slice.items():
        row = f"  {figure:44} {alone[figure]!s:>10} {value!s:>12}"
        print(row + (f" {judged[figure]!s:>12}" if judged else ""))


def measure_ingest(
    service: StatementService, server: ChromaServer | None, path: Path, files: list[Path], throughput_texts: int
) -> None:
    """Ingest the slice and print its size, speed, memory and the model's own speed on the same texts."""
    embedder = service.store.embedder
    # More texts than QUERY_TEXTS, so the torch model (ingest's path) loads before timing.
    embedder.encode(["load the model before timing"] * (QUERY_TEXTS + 1))
    before = embedder.texts_embedded
    started = time.perf_counter()
    report = service.ingest_paths(files)
    seconds = time.perf_counter() - started
    paragraphs = service.store.count_paragraphs()
    sentences = len(service.store.stored_vectors("sentences")[0])
    print(
        f"ingest: {len(service.documents())} documents, {paragraphs:,} paragraphs, {sentences:,} sentences; "
        f"this run added {report.added:,} paragraphs, embedded {embedder.texts_embedded - before:,} texts "
        f"in {seconds:.1f} s = {report.added / seconds if seconds else 0:.1f} paragraphs/s; "
        f"{len(report.failed)} failed"
    )
    started = time.perf_counter()
    again = service.ingest_paths(files)
    print(f"no-op re-ingest: {time.perf_counter() - started:.1f} s, {again.embedded} texts embedded")
    rss = f"peak RSS {peak_rss_mb():.0f} MB"
    if server is not None:
        rss += f", server {process_peak_rss_mb(server.process.pid) or 0:.0f} MB"
    print(f"{rss}; store on disk {size_mb(path):.0f} MB")

    # The pipeline embeds every sentence once (paragraph vectors are sentence means):
    # the model's own rate on a sample of the same sentences is the ceiling.
    sample_keys = [p.key for p in service.store.paragraphs()[:throughput_texts]]
    texts = [s.text for s in service.store.sentences_for(sample_keys)][:throughput_texts]
    if texts:
        tokens, best, rates = model_throughput(service, texts)
        by_batch = ", ".join(f"{b}: {r:,.0f}" for b, r in rates.items())
        print(f"model alone on {len(texts)} of these sentences ({tokens:,} tokens): tokens/s by batch {by_batch}")
        if report.embedded and seconds:
            share = report.embedded / max(len(texts), 1) * tokens / seconds
            print(
                f"pipeline: ~{share:,.0f} tokens/s (texts embedded x mean tokens per sentence / ingest time)"
                f" = {share / best:.0%} of the model's best"
            )
    if report.embedded and seconds:
        same_calls_ceiling(service, report.embedded, seconds)


def same_calls_ceiling(service: StatementService, embedded: int, seconds: float) -> None:
    """The fair ceiling: the model alone on the texts this ingest embedded (every sentence and title,
    up to SAME_TEXTS of them), in the calls ingest makes (EMBED_CHECK_TEXTS at a time), timed in the
    same process right after it; the pipeline's share of that rate."""
    from vectorstore.indexing import EMBED_CHECK_TEXTS

    store = service.store
    keys = [p.key for p in store.paragraphs()]
    texts = [s.text for s in store.sentences_for(keys)] + [r.title for r in store.documents()]
    texts = texts[:SAME_TEXTS]
    started = time.perf_counter()
    for start in range(0, len(texts), EMBED_CHECK_TEXTS):
        store.embedder.encode(texts[start : start + EMBED_CHECK_TEXTS])
    alone = len(texts) / (time.perf_counter() - started)
    pipeline = embedded / seconds
    print(
        f"model alone on {len(texts):,} of the texts ingest embedded, in ingest's calls: {alone:,.1f} texts/s; "
        f"pipeline {pipeline:,.1f} texts/s = {pipeline / alone:.0%} of it"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=SHARED / "corpus/archive")
    parser.add_argument("--glob", default="*/*.md", help="statements to ingest, relative to --archive")
    parser.add_argument("--limit", type=int, default=0, help="at most this many statements (0: all)")
    parser.add_argument(
        "--modes",
        default="embedded,server",
        help="embedded, server (ingests again into a fresh `chroma run`), served (the embedded store, served)",
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/statementbot-bench-archive"))
    parser.add_argument("--fresh", action="store_true", help="delete the stores first (measure a first ingest)")
    parser.add_argument("--ef", default=f"10,50,100,{HNSW_SEARCH_EF}", help="HNSW ef_search values to measure")
    parser.add_argument("--throughput-texts", type=int, default=1000, help="texts for the raw model figure")
    parser.add_argument("--skip-eval", action="store_true")
    parser.add_argument("--rss-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_probe:
        return rss_probe()

    files = sorted(Path(p) for p in glob.glob(str(args.archive / args.glob)))
    if args.limit:
        files = files[: args.limit]
    slice_name = f"archive-{len(files)}"
    if args.fresh and args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"archive slice: {len(files)} statements from {args.archive / args.glob}")
    questions = [q.question for q in load_questions(REAL_DEV / "questions.jsonl")] if REAL_DEV.exists() else []

    eval_sets = [] if args.skip_eval else [(n, q, d) for n, q, d in EVAL_SETS if q.exists() and d.exists()]
    alone: dict[str, dict[str, float | None]] = {}
    for name, questions_path, docs in eval_sets:
        service, _server, _path = open_service("embedded", args.work, f"alone-{docs.name}-{docs.parent.name}")
        service.ingest_paths([docs])
        service.warm()  # model load and caches, outside the latency figures
        alone[name] = evaluation(service, questions_path)
        service.close()

    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        print(f"\n== {mode} ==")
        service, server, path = open_service(mode, args.work, slice_name)
        try:
            if mode != "served":  # served: the store was built by embedded mode
                measure_ingest(service, server, path, files, args.throughput_texts)
            if questions:
                print(f"dense recall vs exact cosine, {len(questions)} real_dev questions as queries:")
                recall(service, questions, [int(e) for e in args.ef.split(",")])
            if eval_sets:
                service.ingest_paths([docs for _, _, docs in eval_sets])
                service.warm()
            print(bot_rss(mode, args.work, slice_name if mode != "server" else f"{slice_name}-server-data", server))
            for name, questions_path, _docs in eval_sets:
                print_beside(service, name, questions_path, alone[name])
        finally:
            service.close()
            if server is not None:
                server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
