"""Incremental, crash-safe ingest with LangChain's indexing API and a record manager.

Whole files are indexed in groups of a few hundred passages, one
``index(..., cleanup="incremental")`` call each: a group's new chunks are
written first and the stale chunks of its files deleted only after, so a run
killed at any moment leaves at least what was there before, and the next
run converges (Chroma writes are upserts keyed by chunk id). A file whose
marker says it was fully indexed as it is now is not even re-split; in a changed
file, unchanged chunks are skipped by the record manager, so a second run
embeds nothing. A passage whose text is already stored (only its line numbers
moved) reuses its stored vector instead of being embedded again.

Ingest deletes only what it wrote: every vector carries its writer's mark (the
id of the record database, see ``store.ingest_writer``), and the writer is
part of every chunk id, so two writers never share a vector. Of its own
chunks, it deletes the stale ones of files it read in this run, and all of
those of files that vanished from the corpus. Files that fail to parse keep
their previous chunks, because a typo must not delete knowledge; vectors of
other machines, other bookkeeping or other programs are never touched.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout
from langchain_core.documents import Document

from assistant import store as store_mod
from assistant.cachefile import local_dir
from assistant.chunking import chunk_document, chunk_id, passage_text
from assistant.config import Settings
from assistant.corpus import CorpusScan, SourceDocument, scan_corpus
from assistant.embeddings import ProgressEmbeddings, RunCounter, get_embeddings


GROUP_CHUNKS = 256  # passages per store write (whole files; see file_groups)
SENTENCE_BATCH = 256  # sentences per step of the ingest progress bar (and per cache write)
WRITER_KEY = "writer"  # metadata field with the mark of the writer that stored a vector


class IngestError(RuntimeError):
    """Ingest could not run at all (no corpus, locked, nothing indexable)."""


@dataclass
class IngestSummary:
    """What one ingest run did; ``to_json`` has the keys scripts rely on."""

    files: int = 0
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed: int = 0
    seconds: float = 0.0
    embedded: int = 0  # passages
    sentences: int = 0  # sentences embedded for the sentence leg (``embed_sentences``)
    sentence_seconds: float = 0.0  # of ``embed_seconds``, the model's time on those sentences
    embed_seconds: float = 0.0  # of ``seconds``, the time spent in the embedding model (passages and sentences)
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["embed_seconds"] = round(self.embed_seconds, 3)
        data["sentence_seconds"] = round(self.sentence_seconds, 3)
        return data

    def to_text(self) -> str:
        lines = [
            f"files {self.files} · added {self.added} · updated {self.updated} · deleted {self.deleted} · "
            f"unchanged {self.unchanged} · failed {self.failed} · {self.seconds:.1f}s"
        ]
        lines += [f"  skipped {e['source']}: {e['reason']}" for e in self.errors]
        return "\n".join(lines)


def chunk_corpus(scan: CorpusScan, settings: Settings, embeddings: ProgressEmbeddings) -> tuple[dict[str, list[Document]], list[tuple[str, str]]]:
    """Chunks per source file; a file whose chunking fails is reported, not fatal."""
    per_file: dict[str, list[Document]] = {}
    failures = list(scan.failures)
    for doc in scan.documents:
        try:
            chunks = chunk_document(doc, settings.chunk_size, settings.chunk_overlap, embeddings.count_tokens)
        except Exception as exc:  # a pathological file must not stop the others
            failures.append((doc.source, f"could not be split into passages: {exc}"))
            continue
        if chunks:
            per_file[doc.source] = chunks
        else:
            failures.append((doc.source, "no indexable text"))
    return per_file, failures


def _lock_path(settings: Settings) -> Path:
    if settings.server_mode:
        path = Path(settings.store_dir).parent / f"ingest-{settings.chroma_host}-{settings.chroma_port}-{settings.collection}.lock"
    else:
        path = Path(settings.store_dir) / f"ingest-{settings.collection}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def run_ingest(
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    lock_timeout: float = 0,
) -> IngestSummary:
    """Bring the store in line with the corpus folder and report what changed."""
    started = time.perf_counter()
    lock = FileLock(str(_lock_path(settings)))
    try:
        lock.acquire(timeout=lock_timeout)
    except Timeout as exc:
        raise IngestError(
            f"Another ingest is running on {store_mod.location(settings)} (lock {lock.lock_file}); "
            "wait for it to finish, then run again."
        ) from exc
    try:
        with store_mod.writing():
            return _ingest_locked(settings, rebuild=rebuild, progress=progress, log=log, started=started)
    finally:
        lock.release()


@dataclass
class Plan:
    """What an ingest run will do, decided before anything is written."""

    scan: CorpusScan
    markers: dict[str, str]  # source -> marker of its current version (see file_marker)
    kept: list[SourceDocument]  # fully indexed as they are now: neither chunked nor indexed
    per_file: dict[str, list[Document]]  # chunks of the files to index
    failures: list[tuple[str, str]]  # (source, reason), reported and kept as they were


def _ingest_locked(settings: Settings, *, rebuild: bool, progress: bool, log: Callable[[str], None], started: float) -> IngestSummary:
    """plan -> write -> remove stale -> report."""
    embeddings = get_embeddings(settings)
    existed = not rebuild and store_mod.get_collection(settings) is not None
    plan = plan_ingest(settings, embeddings, existed)
    summary = IngestSummary(files=len(plan.per_file) + len(plan.failures) + len(plan.kept), failed=len(plan.failures))
    summary.errors = [{"source": s, "reason": r} for s, r in plan.failures]
    for source, reason in plan.failures:
        log(f"warning: skipped {source}: {reason}")
    if not plan.per_file and not plan.kept:
        raise IngestError(
            f"Nothing could be ingested from {settings.corpus_dir}: "
            + ("; ".join(f"{s}: {r}" for s, r in plan.failures) or "no .md or .txt files found")
        )

    if rebuild:
        store_mod.delete_collection(settings)
    elif not existed and store_mod.clear_records(settings):
        log(f"note: no collection at {store_mod.location(settings)}; its leftover ingest records were cleared")
    counter = RunCounter(embeddings)
    vector_store = store_mod.open_store(settings, embeddings, create=True, passages=counter)
    records = store_mod.get_record_manager(settings)
    writer = store_mod.ingest_writer(records)
    if settings.server_mode and not settings.record_db_url:
        log(local_records_note(settings))
    run_start = records.get_time()

    write_files(plan, writer, vector_store, records, counter, run_start, summary, progress)
    remove_stale(settings, plan, writer, vector_store, records, run_start, summary)

    summary.embedded = counter.embedded
    summary.embed_seconds = counter.embed_seconds
    written = [passage_text(c) for chunks in plan.per_file.values() for c in chunks]
    token = uuid.uuid4().hex[:12] if summary.added or summary.updated or summary.deleted or rebuild else None
    units: list[str] = []
    try:
        if written or token is not None:
            if progress:
                log("Saving the keyword index and sentence split for the app's next start ...")
            units = prepare_start(settings, written, token)
    finally:  # the new state is marked whatever happened to the files a start would otherwise build
        if token is not None:
            store_mod.mark_state(settings, token)
    sentences = RunCounter(embeddings)  # this run's sentences only, as ``counter`` counts its passages
    summary.sentences = embed_sentences(settings, sentences, units, progress)
    summary.sentence_seconds = sentences.embed_seconds
    summary.embed_seconds += sentences.embed_seconds
    calibrate(settings, embeddings)
    summary.seconds = time.perf_counter() - started
    return summary


def plan_ingest(settings: Settings, embeddings: ProgressEmbeddings, existed: bool) -> Plan:
    """Read the corpus and chunk only the files that changed since their last complete ingest.

    A file whose text and chunking inputs match its marker from a finished
    ingest needs neither chunking nor indexing: with thousands of files, that
    is most of a re-run.
    """
    scan = scan_corpus(Path(settings.corpus_dir), int(settings.max_file_mb * 1_000_000), int(settings.max_document_mb * 1_000_000),
                       cache_dir=local_dir(settings) / "converted")
    salt = chunking_salt(settings, embeddings)
    markers = {doc.source: file_marker(doc, salt) for doc in scan.documents}
    done = _existing(store_mod.get_record_manager(settings), list(markers.values())) if existed else set()
    kept = [doc for doc in scan.documents if markers[doc.source] in done]
    todo = CorpusScan(documents=[doc for doc in scan.documents if markers[doc.source] not in done], failures=scan.failures)
    per_file, failures = chunk_corpus(todo, settings, embeddings)
    return Plan(scan=scan, markers=markers, kept=kept, per_file=per_file, failures=failures)


def write_files(plan: Plan, writer: str, vector_store, records, counter: RunCounter, run_start: float,
                summary: IngestSummary, progress: bool) -> None:
    """Index the changed files in groups of whole files, marking each file done once all of it is stored.

    One index() batch per group: its incremental cleanup runs after the whole
    group is written, so an unchanged chunk of a file is never deleted before
    its record is refreshed, and it deletes only ids these records hold
    (chunks this writer stored).
    """
    from langchain_core.indexing import index  # imported here: it brings LangChain's retrievers, which an app start skips

    per_file = {source: stamp(chunks, writer) for source, chunks in plan.per_file.items()}
    bar = _progress_bar(sum(len(chunks) for chunks in per_file.values()), progress)
    counter.on_progress = bar.update if bar is not None else None
    try:
        for group in file_groups(per_file, GROUP_CHUNKS):
            sources = list(dict.fromkeys(d.metadata["source"] for d in group))
            old = [k for k in records.list_keys(group_ids=sources) if is_marker(k)]
            if old:  # markers of the old versions go first, so index()'s counts are chunks only
                records.delete_keys(old)
            embedded_at_group_start = counter.embedded
            result = index(group, records, vector_store, cleanup="incremental", source_id_key="source",
                           batch_size=max(len(group), 1), key_encoder=lambda d: d.metadata["id"])
            records.update([plan.markers[s] for s in sources], group_ids=sources, time_at_least=run_start)
            replaced = min(result["num_added"], result["num_deleted"])
            summary.updated += replaced
            summary.added += result["num_added"] - replaced
            summary.deleted += result["num_deleted"] - replaced
            summary.unchanged += result["num_skipped"]
            if bar is not None:  # skipped and reused chunks advance the bar too, so it ends at 100%
                bar.update(len(group) - (counter.embedded - embedded_at_group_start))
                bar.set_postfix(embedded=counter.embedded, refresh=False)
    finally:
        counter.on_progress = None
        if bar is not None:
            bar.close()


def remove_stale(settings: Settings, plan: Plan, writer: str, vector_store, records, run_start: float,
                 summary: IngestSummary) -> None:
    """Delete this writer's chunks of vanished files and its orphans; files that failed keep theirs.

    Unchanged files and files that failed this time (a typo must not delete
    knowledge) are still present and keep their chunks. Vectors with our mark
    that the records do not know (a run killed between the store write and the
    record update, then the file changed or vanished) would be orphans forever.
    """
    present = {doc.source for doc in plan.scan.documents} | {source for source, _ in plan.scan.failures}
    older = records.list_keys(before=run_start)
    stale = [k for k in older if source_of(k) not in present]
    if stale:
        chunk_ids = [k for k in stale if not is_marker(k)]
        if chunk_ids:
            vector_store.delete(ids=chunk_ids)
        records.delete_keys(stale)
        summary.deleted += len(chunk_ids)
    # Every key recorded now: the older ones kept, and those this run wrote. Listing all keys again cost 2.2 s
    # at 100k passages; the keys written since the start are few. A second's margin (a set union, so keys in
    # both lists count once): a key stamped exactly at ``run_start`` is neither before it nor after it, and a
    # key missing here would have its vector deleted below as an orphan.
    gone = set(stale)
    tracked = list(dict.fromkeys([k for k in older if k not in gone] + records.list_keys(after=run_start - 1.0)))
    failed = {source for source, _ in plan.failures}
    orphans = [i for i in orphan_ids(store_mod.get_collection(settings), writer, tracked) if source_of(i) not in failed]
    if orphans:
        vector_store.delete(ids=orphans)
        summary.deleted += len(orphans)
    kept_sources = {doc.source for doc in plan.kept}
    summary.unchanged += sum(1 for k in tracked if not is_marker(k) and source_of(k) in kept_sources)


def stamp(chunks: list[Document], writer: str) -> list[Document]:
    """The chunks with their writer's mark, and ids that include it, so no other writer can own them.

    Two machines with their own records that ingest the same file store it
    twice rather than share vectors: a shared vector could be deleted by one
    while the other still counts on it.
    """
    out: list[Document] = []
    for chunk in chunks:
        metadata = {**chunk.metadata, WRITER_KEY: writer}
        metadata["id"] = chunk_id(metadata["source"], chunk.page_content, metadata)
        out.append(Document(page_content=chunk.page_content, metadata=metadata, id=metadata["id"]))
    return out


def local_records_note(settings: Settings) -> str:
    """What a server-mode ingest without RECORD_DB_URL implies, said on every such run."""
    return (
        f"note: RECORD_DB_URL is unset, so the ingest records of {store_mod.location(settings)} are kept on this "
        f"machine ({store_mod.record_db_url(settings).removeprefix('sqlite:///')}). This ingest deletes only passages "
        "it wrote itself: another machine ingesting into this collection keeps its passages, and a file both ingest "
        "is stored twice. To ingest one corpus from several machines, give them all one RECORD_DB_URL."
    )


_MARKER = "#file:"


def is_marker(key: str) -> bool:
    """Record keys are chunk ids ("source#hash") or file markers ("source#file:digest")."""
    return _MARKER in key


def source_of(key: str) -> str:
    """The corpus file a record key belongs to (see ``chunking.chunk_id`` and ``file_marker``)."""
    return key.rsplit("#", 1)[0]


def chunking_salt(settings: Settings, embeddings: ProgressEmbeddings) -> str:
    """Everything besides a file's text that decides its chunks: settings, embedder, and the code.

    The sources of the modules that parse, normalize and split are part of it,
    so upgrading the chunker re-chunks every file without anyone remembering to
    bump a version.
    """
    from assistant import chunking, corpus, text

    digest = hashlib.sha256()
    digest.update(json.dumps([settings.chunk_size, settings.chunk_overlap, embeddings.signature()], sort_keys=True).encode())
    for module in (chunking, corpus, text):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def file_marker(doc: SourceDocument, salt: str) -> str:
    """Record key saying "this exact file was fully indexed with these chunking inputs"."""
    payload = json.dumps([doc.source, doc.text, doc.meta, doc.body_start_line, doc.kind, list(doc.page_lines), salt], sort_keys=True, ensure_ascii=False, default=str)
    return f"{doc.source}{_MARKER}{hashlib.sha256(payload.encode('utf-8')).hexdigest()[:24]}"


def _existing(records, keys: list[str]) -> set[str]:
    """Which keys the record manager holds, asked in pages (SQLite limits query parameters)."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        page = keys[start:start + 500]
        found.update(k for k, hit in zip(page, records.exists(page), strict=True) if hit)
    return found


def file_groups(per_file: dict[str, list[Document]], min_chunks: int) -> list[list[Document]]:
    """Whole files packed into groups of at least ``min_chunks`` passages (the last may be smaller).

    A Chroma write costs ~10 ms whatever its size, and the record manager a few
    queries per call: writing file by file made those fixed costs most of
    ingest's own time. A file is never split across groups, so each group keeps
    the per-file guarantee: new chunks are written before stale ones go.
    """
    groups: list[list[Document]] = []
    current: list[Document] = []
    for chunks in per_file.values():
        current.extend(chunks)
        if len(current) >= min_chunks:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


def orphan_ids(collection, writer: str, tracked: list[str]) -> list[str]:
    """Ids of vectors marked as ``writer``'s that are not among its records' ``tracked`` keys."""
    known = set(tracked)
    return sorted(i for i, _, _ in store_mod.iter_records(collection, [], where={WRITER_KEY: writer}, page=10_000) if i not in known)


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="chunk", desc="Indexing", dynamic_ncols=True)


def prepare_start(settings: Settings, written: list[str], token: str | None = None) -> list[str]:
    """Save what the app's first start on the new store state would build, and return the sentences of
    the passages this run ``written``. ``token``: the state about to be marked (``store.next_state``),
    None when the state does not change.

    The keyword index (``keyword_cache``) and the sentence split
    (``sentences.split_of``) of the whole store take half a minute and a
    minute at 100k passages; built here, where the user expects to wait,
    the start after an ingest reads them. Both reuse what the previous state's
    files hold, so only passages new to the store are tokenized and split.
    """
    from assistant import keyword_cache
    from assistant.sentences import split_of, split_path

    collection = store_mod.get_collection(settings)
    state = store_mod.store_state(settings) if token is None else store_mod.next_state(settings, token)
    if collection is None or state is None:
        return []  # nothing to search: no start to prepare
    docs, _ = keyword_cache.passages_and_index(settings, collection, state)
    if settings.sentence_weight <= 0 or settings.retrieval_mode != "hybrid":
        return []
    texts = [passage_text(d) for d in docs]
    units, owners = split_of(split_path(settings, str(collection.id)), texts)
    fresh = set(written)
    return list(dict.fromkeys(u for u, o in zip(units, owners, strict=True) if texts[o] in fresh))


def embed_sentences(settings: Settings, embeddings: RunCounter, units: list[str], progress: bool) -> int:
    """Put the sentences of the passages written this run in the vector cache; how many were embedded.

    Retrieval searches them (``assistant.sentences``): done here, the first
    question after an ingest does not wait for them. The cache is disposable;
    a sentence it lost is embedded again when the index is next built.
    """
    if settings.sentence_weight <= 0 or settings.retrieval_mode != "hybrid" or not units:
        return 0
    from assistant.text_vectors import DiskVectors, VectorCache, disk_path

    cache = VectorCache(embeddings, disk=DiskVectors(disk_path(settings)))  # type: ignore[arg-type]  # embeds as the model does
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(units), unit="sentence", desc="Sentences", dynamic_ncols=True)
    done = 0
    try:
        for start in range(0, len(units), SENTENCE_BATCH):
            batch = units[start:start + SENTENCE_BATCH]
            done += cache.prepare(batch)
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
    return done


def calibrate(settings: Settings, embeddings: ProgressEmbeddings) -> None:
    """Measure the off-topic probes against this store state, unless already recorded for it.

    The probe vectors are saved on the way (``ProbeSpace.load_or_embed``), so
    the app's first start after an ingest loads them instead of embedding them.
    """
    from assistant import answerability

    state = store_mod.store_state(settings) or ""
    embedder = answerability.embedder_id(embeddings)
    if answerability.recorded(store_mod.read_calibration(settings), state, embedder, settings.hub_correction) is not None:
        return
    collection = store_mod.get_collection(settings)
    if collection is None or not collection.count():
        return
    probes = answerability.ProbeSpace.load_or_embed(embeddings, answerability.probe_cache_path(settings))
    store_mod.write_calibration(settings, answerability.measure(collection, embeddings, state, embedder, probes, settings.hub_correction).to_json())


def ensure_store(settings: Settings, log: Callable[[str], None] = print) -> IngestSummary | None:
    """Build the store if it is missing (first run of the app); otherwise do nothing."""
    state = store_mod.store_state(settings)  # one count: at 10k passages each costs 80 ms of the start
    if state is not None and not state.endswith(":0"):
        return None
    log(f"No store at {store_mod.location(settings)}: building it from {settings.corpus_dir} ...")
    summary = run_ingest(settings, progress=True, log=log)
    log(summary.to_text())
    return summary
