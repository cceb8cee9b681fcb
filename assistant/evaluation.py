"""``python -m assistant eval``: retrieval and answers measured, not assumed.

A question set is JSONL: ``{"id", "lang", "question", "history", "gold_keywords",
"answerable"}`` (unknown keys ignored; optional ``kind`` and ``gold_parts``, one
keyword list per part of a comparison). A passage is relevant when it contains
every gold keyword (after Arabic normalization). Every question goes through
the same ``answer_stream`` as the UI, so the report gives each one's status
(answered | unsure | refused), whether the answer quotes the fact (the gold
keywords are in the quoted text) and whether it cites the passage holding it
(a fair measure when an English question is quoted the English sentence of a
bilingual passage whose gold keywords are Arabic). The
JSON report carries every question's results so anyone can recompute the
metrics. ``--baseline`` scores a naive "chat with your docs" retriever in the
same run: raw files, LangChain's 1000/200 character splitter, dense search
with the question alone, no refusal. ``python -m assistant compare`` sets two
such reports side by side, question by question (``compare_reports``).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import Settings
from assistant.text import detect_language, normalize, words

KINDS = ("direct", "cross-lingual", "follow-up")
STATUSES = ("answered", "unsure", "refused")


def load_question_set(path: Path) -> list[dict[str, Any]]:
    """Parse a JSONL set; a bad line is an error naming the line, not a silent skip."""
    questions = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise ValueError(f"{path}:{number}: each line needs at least a \"question\" string")
        item.setdefault("id", f"line-{number}")
        item["history"] = item.get("history") or []
        item.setdefault("gold_keywords", [])
        item.setdefault("answerable", bool(item["gold_keywords"]))
        item.setdefault("lang", detect_language(item["question"]))
        item["kind"] = item.get("kind") or question_kind(item)
        questions.append(item)
    return questions


def question_kind(item: dict[str, Any]) -> str:
    """follow-up when it has history; cross-lingual when question and gold keywords differ in script."""
    if item.get("history"):
        return "follow-up"
    gold = " ".join(item.get("gold_keywords") or [])
    if gold and any("\u0600" <= ch <= "\u06ff" for ch in gold) and item.get("lang") != "ar":
        return "cross-lingual"
    return "direct"


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", normalize(text)).strip()


def contains_all(text: str, keywords: Sequence[str]) -> bool:
    """Every keyword occurs in the text, compared after normalization (diacritics, hamza forms, spacing)."""
    flat = _flat(text)
    return bool(keywords) and all(_flat(k) in flat for k in keywords)


is_relevant = contains_all


def first_relevant_rank(results: Sequence[dict[str, Any]], gold_keywords: Sequence[str]) -> int | None:
    for rank, result in enumerate(results, start=1):
        if contains_all(result["text"], gold_keywords):
            return rank
    return None


def _found_within(row: dict[str, Any], k: int) -> float:
    """1.0 when the row's gold passage is among the first ``k`` (rank None: not found)."""
    return float(row.get("rank") is not None and row["rank"] <= k)


def _reciprocal(row: dict[str, Any]) -> float:
    return 1.0 / row["rank"] if row.get("rank") else 0.0


def metrics(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """recall@1/3/5, MRR and quote accuracy over answerable rows; each row has ``rank`` (None = not found)."""
    rows = [r for r in rows if r["answerable"]]
    n = len(rows)
    if not n:
        return {"n": 0}
    out: dict[str, Any] = {"n": n}
    for k in (1, 3, 5):
        out[f"recall@{k}"] = round(sum(_found_within(r, k) for r in rows) / n, 4)
    out["mrr"] = round(sum(_reciprocal(r) for r in rows) / n, 4)
    for key in ("quotes_fact", "cites_fact"):
        judged = [r for r in rows if r.get(key) is not None]
        if judged:
            out[key] = round(sum(bool(r[key]) for r in judged) / len(judged), 4)
    lengths = [r["answer_words"] for r in rows if r.get("answer_words") is not None]
    if lengths:
        out["answer_words"] = round(sum(lengths) / len(lengths), 1)  # mean length of the answers given (not refused)
    return out


def status_rates(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Share of each status among the rows."""
    n = len(rows)
    return {"n": n, **{s: round(sum(r["status"] == s for r in rows) / n, 4) if n else None for s in STATUSES}}


def summarize(rows: Sequence[dict[str, Any]], k: int, mode: str) -> dict[str, Any]:
    """Metrics overall, per language and per kind, plus status rates for answerable and unanswerable questions."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    langs = sorted({r["lang"] for r in rows})
    kinds = sorted({r["kind"] for r in rows})
    return {
        "mode": mode,
        "k": k,
        "questions": len(rows),
        "overall": metrics(rows),
        "by_lang": {lang: metrics(r for r in rows if r["lang"] == lang) for lang in langs},
        "by_kind": {kind: metrics(r for r in rows if r["kind"] == kind) for kind in kinds},
        "status": {
            "answerable": status_rates(answerable),
            "unanswerable": status_rates(unanswerable),
            "unanswerable_by_kind": {kind: status_rates([r for r in unanswerable if r["kind"] == kind])
                                     for kind in sorted({r["kind"] for r in unanswerable})},
            "answerable_by_lang": {lang: status_rates([r for r in answerable if r["lang"] == lang]) for lang in langs},
        },
    }


def eval_store(settings: Settings, corpus: Path) -> Settings:
    """Settings for a temporary store of ``corpus``, kept per folder so a second run only checks for changes."""
    from assistant.indexing import run_ingest

    tag = hashlib.sha1(str(corpus.resolve()).encode()).hexdigest()[:12]
    store = Path(tempfile.gettempdir()) / "assistant-eval" / f"{corpus.name}-{tag}"
    scoped = settings.model_copy(update={"corpus_dir": corpus, "store_dir": store, "chroma_host": None, "record_db_url": None})
    run_ingest(scoped, progress=False, log=lambda message: None)
    return scoped


def run_eval(settings: Settings, paths: Path | Sequence[Path], k: int = 5, assistant: Any = None, baseline: bool = False,
             backend: str | None = None) -> dict[str, Any]:
    """Every question through the full answer path; returns {"summary", "questions"} (and "baseline").

    Answers are quoted (extractive) unless ``backend`` names a language model:
    the figures of a run then do not depend on an ``LLM_BACKEND`` left in the
    environment, and a model is measured only when asked for.
    """
    from assistant.answer import Assistant, answer

    assistant = assistant or Assistant(settings.model_copy(update={"llm_backend": backend or "extractive"}))
    questions = [q for path in ([paths] if isinstance(paths, Path) else paths) for q in load_question_set(path)]
    rows, report = [], []
    for item in questions:
        response = answer(assistant, item["question"], item.get("history") or [], k=k)
        results = [{"id": h["id"], "score": h["score"], "text": h["text"]} for h in response.retrieved]
        rank = first_relevant_rank(results, item["gold_keywords"]) if item["answerable"] else None
        parts = item.get("gold_parts") or ([item["gold_keywords"]] if item["gold_keywords"] else [])
        quotes = cites = None
        if item["answerable"] and response.status != "refused":
            quotes = all(contains_all(response.answer, part) for part in parts)
            cites = all(any(contains_all(c.text, part) for c in response.citations) for part in parts)
        length = len(words(response.answer)) if response.status != "refused" else None
        rows.append({"lang": item["lang"], "kind": item["kind"], "answerable": bool(item["answerable"]), "rank": rank,
                     "status": response.status, "quotes_fact": quotes, "cites_fact": cites, "answer_words": length})
        report.append({"id": item["id"], "lang": item["lang"], "kind": item["kind"], "answerable": bool(item["answerable"]),
                       "question": item["question"], "query": response.query, "status": response.status,
                       "reason": response.reason, "signals": response.signals, "rank": rank, "quotes_fact": quotes, "cites_fact": cites,
                       "answer": response.answer, "answer_words": length, "backend": response.backend,
                       "generated": response.generated, "results": results})
    out = {"summary": {**summarize(rows, k, settings.retrieval_mode), "backend": assistant.backend}, "questions": report}
    if baseline:
        out["baseline"] = naive_baseline(settings, questions, k)
    return out


def naive_text(path: Path) -> str:
    """A file's text as a default setup reads it: text files as they are, a PDF as pdfminer lays it out (LangChain's
    PDFMinerLoader: Arabic drawn right to left stays backwards), Word and HTML through our converters."""
    from assistant.formats import CONVERTERS

    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from pdfminer.high_level import extract_text

        try:
            return extract_text(str(path))
        except Exception:  # a file the pipeline also skips
            return ""
    if suffix in CONVERTERS:
        try:
            return CONVERTERS[suffix](path.read_bytes()).text
        except ValueError:
            return ""
    return path.read_text(encoding="utf-8", errors="replace")


def naive_baseline(settings: Settings, questions: Sequence[dict[str, Any]], k: int) -> dict[str, Any]:
    """What a default "chat with your docs" setup retrieves, scored with the same metric."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from assistant.corpus import NOT_INDEXED, SUPPORTED_SUFFIXES
    from assistant.embeddings import get_embeddings

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks: list[str] = []
    for path in sorted(Path(settings.corpus_dir).rglob("*")):
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES and path.name not in NOT_INDEXED:
            chunks += splitter.split_text(naive_text(path))
    embedder = get_embeddings(settings)
    matrix = np.asarray(embedder.embed_documents(chunks))
    rows = []
    for item in questions:
        scores = matrix @ np.asarray(embedder.embed_query(item["question"]))
        top = [{"text": chunks[i]} for i in np.argsort(-scores)[:k]]
        rank = first_relevant_rank(top, item["gold_keywords"]) if item["answerable"] else None
        rows.append({"lang": item["lang"], "kind": item["kind"], "answerable": item["answerable"], "rank": rank, "status": "answered"})
    summary = summarize(rows, k, "naive-baseline")
    summary["chunks"] = len(chunks)
    return summary


def format_report(summary: dict[str, Any], title: str = "") -> str:
    """A small table for people."""
    backend = f" · answers {summary['backend']}" if summary.get("backend") else ""
    lines = [title or f"mode {summary['mode']} · k {summary['k']} · {summary['questions']} questions{backend}", ""]
    lines.append(f"{'group':<16}{'n':>5}{'R@1':>8}{'R@3':>8}{'R@5':>8}{'MRR':>8}{'quotes':>8}{'cites':>8}{'words':>8}")
    groups = [("all", summary["overall"])] + list(summary["by_lang"].items()) + list(summary["by_kind"].items())
    for name, m in groups:
        if not m.get("n"):
            continue
        quotes = "".join(f"{m[key]:>8.3f}" if key in m else f"{'-':>8}" for key in ("quotes_fact", "cites_fact"))
        quotes += f"{m['answer_words']:>8.1f}" if "answer_words" in m else f"{'-':>8}"
        lines.append(f"{name:<16}{m['n']:>5}{m['recall@1']:>8.3f}{m['recall@3']:>8.3f}{m['recall@5']:>8.3f}{m['mrr']:>8.3f}{quotes}")
    status = summary.get("status", {})
    if status:
        lines.append("")
        lines.append(f"{'status':<28}{'n':>5}{'answered':>10}{'unsure':>8}{'refused':>9}")
        groups = [("answerable", status["answerable"]), ("unanswerable", status["unanswerable"])]
        groups += [(f"  answerable {lang}", s) for lang, s in status.get("answerable_by_lang", {}).items()]
        groups += [(f"  unanswerable {kind}", s) for kind, s in status.get("unanswerable_by_kind", {}).items()]
        for name, s in groups:
            if s.get("n"):
                lines.append(f"{name:<28}{s['n']:>5}{s['answered']:>10.2f}{s['unsure']:>8.2f}{s['refused']:>9.2f}")
    return "\n".join(lines)


def compare_reports(before: dict[str, Any], after: dict[str, Any], *, resamples: int = 2000, seed: int = 0,
                    names: tuple[str, str] = ("before", "after")) -> dict[str, Any]:
    """Two ``eval --json`` reports of the same questions, question by question: what changed, and whether more
    than the questions drawn could explain.

    On a set of 46 questions one question is 0.022 of recall@1, and a change
    that helps some questions and hurts others moves the figure either way by
    chance. So each language's difference comes with a 95% interval from a
    paired bootstrap (the questions resampled, each keeping its before and
    after; one generator per language from ``seed`` and the language, so a
    language's interval is the same whatever else the reports hold), beside
    the counts of questions that went up and down. Quotes and cites are over
    every answerable question, a refused answer counting as not quoting (the
    report's summary leaves refused answers out): a change that refuses more
    shows as a loss. Statuses are counted as transitions ("answered ->
    unsure"), answerable and unanswerable apart. Questions are matched by id;
    an id twice in a report, or one id asking two different questions, is an
    error naming the report (``names``: the files, for the command line)
    (the reports are not of the same set). Rows written before they
    carried ``lang`` and ``answerable`` are read by ``_guessed``, and the
    result says so (``guessed``).
    """
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    old, new = _rows_by_id(before, names[0]), _rows_by_id(after, names[1])
    common = [i for i in old if i in new]
    for i in common:
        if old[i]["question"] != new[i]["question"]:
            raise ValueError(f"id {i!r} asks two different questions: the reports are not of the same question set")
    read = {i: _guessed(old[i], new[i]) for i in common}
    out: dict[str, Any] = {"questions": len(common), "only_before": len(old) - len(common), "only_after": len(new) - len(common),
                           "guessed": any(guess for _, _, guess in read.values()),
                           "by_lang": {}, "status": {"answerable": {}, "unanswerable": {}}, "changed": []}
    for lang in sorted({lang for lang, _, _ in read.values()}):
        judged = [i for i in common if read[i][0] == lang and read[i][1]]
        rng = np.random.default_rng([seed, *lang.encode("utf-8")])
        draws = rng.integers(0, len(judged), size=(resamples, len(judged))) if len(judged) > 1 else None
        entry: dict[str, Any] = {"n": len(judged)}
        for name, value in (("recall@1", lambda row: _found_within(row, 1)), ("mrr", _reciprocal), ("quotes_fact", _quoted("quotes_fact")),
                            ("cites_fact", _quoted("cites_fact"))):
            entry[name] = _paired([value(old[i]) for i in judged], [value(new[i]) for i in judged], draws)
        out["by_lang"][lang] = entry
    fields = ("status", "rank", "quotes_fact", "cites_fact")
    for i in common:
        a, b = old[i], new[i]
        group = "answerable" if read[i][1] else "unanswerable"
        if a["status"] != b["status"]:
            move = f"{a['status']} -> {b['status']}"
            out["status"][group][move] = out["status"][group].get(move, 0) + 1
        if a.get("answer") != b.get("answer") or any(a.get(f) != b.get(f) for f in fields):
            out["changed"].append({"id": i, "question": a["question"], **{f: [a.get(f), b.get(f)] for f in fields},
                                   "answer_changed": a.get("answer") != b.get("answer")})
    return out


def _rows_by_id(report: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """A report's rows by id, each checked for what the comparison reads; a bad row is an error naming it."""
    rows = report.get("questions") if isinstance(report, dict) else None
    if not isinstance(rows, list):
        raise ValueError(f"{name}: not an `eval --json` report (no \"questions\" list)")
    out: dict[str, dict[str, Any]] = {}
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not isinstance(row.get("question"), str):
            raise ValueError(f"{name}: question {number} needs an \"id\" and a \"question\" string")
        if row.get("status") not in STATUSES:
            raise ValueError(f"{name}: question {row['id']!r} has no status among {', '.join(STATUSES)}")
        rank = row.get("rank")
        if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 1):
            raise ValueError(f"{name}: question {row['id']!r} has rank {rank!r} (a positive integer or null)")
        if row["id"] in out:
            raise ValueError(f"{name}: id {row['id']!r} appears twice (sets joined without ids are numbered per file)")
        out[row["id"]] = row
    return out


def _guessed(a: dict[str, Any], b: dict[str, Any]) -> tuple[str, bool, bool]:
    """(language, answerable, whether either was guessed) of a question from its two rows.

    Rows of reports written before they carried them have neither field;
    then the language is the question's script (a mixed question may land
    in the other language than its set said) and a question counts as
    answerable when either run found a gold passage or judged its quote
    (an answerable question neither run found and both refused is missed).
    """
    values = []
    for key in ("lang", "answerable"):
        known = {row[key] for row in (a, b) if key in row}
        if len(known) > 1:
            raise ValueError(f"question {a['id']!r}: the reports disagree on its {key} ({', '.join(map(str, sorted(known, key=str)))})")
        values.append(known.pop() if known else None)
    lang, answerable = values
    guessed = lang is None or answerable is None
    if lang is None:
        lang = detect_language(a["question"])
    if answerable is None:
        answerable = any(row.get("rank") is not None or row.get("quotes_fact") is not None for row in (a, b))
    return str(lang), bool(answerable), guessed




def _quoted(key: str) -> Callable[[dict[str, Any]], float]:
    return lambda row: float(bool(row.get(key)))  # refused (None) counts as not quoting


def _paired(before: Sequence[float], after: Sequence[float], draws: np.ndarray | None) -> dict[str, Any]:
    """Means before and after, their difference with a 95% paired-bootstrap interval (``draws``: resampled
    question indices; None under two questions, where no interval means anything), questions up and down."""
    x, y = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if not len(x):
        return {"before": None, "after": None, "diff": None, "ci95": None, "better": 0, "worse": 0}
    diffs = y - x
    interval = None
    if draws is not None:
        low, high = np.percentile(diffs[draws].mean(axis=1), [2.5, 97.5])
        interval = [round(float(low), 4), round(float(high), 4)]
    return {"before": round(float(x.mean()), 4), "after": round(float(y.mean()), 4), "diff": round(float(diffs.mean()), 4),
            "ci95": interval, "better": int((diffs > 0).sum()), "worse": int((diffs < 0).sum())}


def format_comparison(diff: dict[str, Any], listed: bool = False) -> str:
    """The comparison as a table for people; ``listed`` adds one line per changed question."""
    answers = sum(c["answer_changed"] for c in diff["changed"])
    lines = [f"{diff['questions']} questions in both reports (only before {diff['only_before']}, only after {diff['only_after']})"
             f" · {answers} answers changed"]
    if diff.get("guessed"):
        lines.append("(rows without \"lang\" or \"answerable\", from an older report: language read from the script, "
                     "answerable guessed)")
    lines += ["", f"{'lang':<6}{'n':>5}  {'metric':<12}{'before':>8}{'after':>8}{'diff':>9}  {'95% interval':<20}{'up':>5}{'down':>6}"]
    for lang, entry in diff["by_lang"].items():
        for name in ("recall@1", "mrr", "quotes_fact", "cites_fact"):
            m = entry.get(name)
            if not m or m["diff"] is None:
                continue
            interval = f"[{m['ci95'][0]:+.3f}, {m['ci95'][1]:+.3f}]" if m["ci95"] else "-"
            lines.append(f"{lang:<6}{entry['n']:>5}  {name:<12}{m['before']:>8.3f}{m['after']:>8.3f}{m['diff']:>+9.3f}  {interval:<20}"
                         f"{m['better']:>5}{m['worse']:>6}")
    for group, moves in diff["status"].items():
        if moves:
            lines.append("")
            lines.append(f"status, {group}: " + ", ".join(f"{move} {count}" for move, count in sorted(moves.items())))
    if listed and diff["changed"]:
        lines.append("")
        for c in diff["changed"]:
            lines.append(f"{c['id']}: status {c['status'][0]} -> {c['status'][1]}, rank {c['rank'][0]} -> {c['rank'][1]}, "
                         f"quotes {c['quotes_fact'][0]} -> {c['quotes_fact'][1]}, cites {c['cites_fact'][0]} -> {c['cites_fact'][1]}"
                         f"{', answer changed' if c['answer_changed'] else ''} · {c['question']}")
    return "\n".join(lines)
