"""Turn XQuAD's English and Arabic files into two corpus folders and cross-lingual question sets.

XQuAD (Artetxe et al., 2020) is 240 paragraphs of 48 English Wikipedia
articles (SQuAD v1.1 dev) with 1190 questions, professionally translated
into Arabic with the same ids. That gives both directions of cross-lingual
retrieval on text we did not write:

- ``corpus-en/``: the English articles (title heading, paragraphs verbatim);
  ``ar-on-en-{dev,test}.jsonl``: the Arabic questions, gold = the English answer.
  The direction no other set here covers: Arabic questions, English documents.
  ``en-on-en-{dev,test}.jsonl``: the English questions over the same folder.
- ``corpus-ar/``: the Arabic translations (no title: XQuAD gives only the English
  one, and an English heading would hand English questions a keyword);
  ``en-on-ar-{dev,test}.jsonl``: the English questions, gold = the Arabic answer;
  ``ar-on-ar-{dev,test}.jsonl``: the Arabic questions over the same folder.

Articles at odd positions are the dev split, even ones the test split (as in
``tests/eval/arcd``): no passage is shared between the two.

    python tests/eval/xquad/build.py      # rewrites both corpus folders and the eight sets
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def split_of(position: int) -> str:
    return "dev" if position % 2 else "test"


def load(language: str) -> list[dict]:
    return json.loads((HERE / f"xquad.{language}.json").read_text(encoding="utf-8"))["data"]


def write_corpus(folder: Path, articles: list[dict], language: str, with_title: bool) -> None:
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.md"):
        old.unlink()
    for position, article in enumerate(articles, start=1):
        body = "\n\n".join(p["context"].strip() for p in article["paragraphs"])
        if with_title:
            title = article["title"].replace("_", " ").strip()
            head = f"title: {json.dumps(title, ensure_ascii=False)}\nlang: {language}\n---\n\n# {title}\n\n"
        else:
            head = f"lang: {language}\n---\n\n"
        (folder / f"xquad-{position:02d}.md").write_text(f"---\n{head}{body}\n", encoding="utf-8")


def answers(articles: list[dict]) -> dict[str, str]:
    return {qa["id"]: qa["answers"][0]["text"].strip()
            for article in articles for paragraph in article["paragraphs"] for qa in paragraph["qas"]}


def write_sets(name: str, asked: list[dict], language: str, gold: dict[str, str]) -> None:
    sets: dict[str, list[str]] = {"dev": [], "test": []}
    for position, article in enumerate(asked, start=1):
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                item = {"id": f"xquad-{language}-{qa['id']}", "lang": language, "question": qa["question"].strip(),
                        "history": [], "gold_keywords": [gold[qa["id"]]], "answerable": True,
                        "source": f"xquad-{position:02d}.md"}
                sets[split_of(position)].append(json.dumps(item, ensure_ascii=False))
    for split, lines in sets.items():
        (HERE / f"{name}-{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{name}-{split}.jsonl: {len(lines)} questions")


def main() -> None:
    english, arabic = load("en"), load("ar")
    assert [a["title"] for a in english] == [a["title"] for a in arabic]
    write_corpus(HERE / "corpus-en", english, "en", with_title=True)
    write_corpus(HERE / "corpus-ar", arabic, "ar", with_title=False)
    for asked, language in ((english, "en"), (arabic, "ar")):
        for corpus_language, gold in (("en", answers(english)), ("ar", answers(arabic))):
            write_sets(f"{language}-on-{corpus_language}", asked, language, gold)


if __name__ == "__main__":
    main()
