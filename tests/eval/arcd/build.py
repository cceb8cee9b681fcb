"""Turn ARCD (SQuAD-format JSON) into a corpus folder and question sets in our JSONL format.

ARCD's test file has 78 Arabic Wikipedia articles, each with a few paragraphs
and crowd-written questions whose answers are spans of those paragraphs.
Each article becomes one Markdown file (title heading, paragraphs verbatim,
so every answer span is still a substring); each question becomes an eval item
whose gold keyword is its answer text. Articles are split in two by position:
odd positions are the dev split (tuning), even ones the test split (reporting
only), so no passage is shared between the two.

    python tests/eval/arcd/build.py      # rewrites corpus/ and ar-{dev,test}.jsonl
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def split_of(position: int) -> str:
    return "dev" if position % 2 else "test"


def main() -> None:
    data = json.loads((HERE / "arcd-test.json").read_text(encoding="utf-8"))["data"]
    corpus = HERE / "corpus"
    corpus.mkdir(exist_ok=True)
    for old in corpus.glob("*.md"):
        old.unlink()
    sets: dict[str, list[str]] = {"dev": [], "test": []}
    for position, article in enumerate(data, start=1):
        name = f"arcd-{position:03d}.md"
        title = article["title"].strip()
        body = "\n\n".join(p["context"].strip() for p in article["paragraphs"])
        front = json.dumps(title, ensure_ascii=False)  # JSON strings are valid YAML
        (corpus / name).write_text(f"---\ntitle: {front}\nlang: ar\n---\n\n# {title}\n\n{body}\n", encoding="utf-8")
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answer = qa["answers"][0]["text"].strip()
                item = {
                    "id": f"arcd-{qa['id']}",
                    "lang": "ar",
                    "question": qa["question"].strip(),
                    "history": [],
                    "gold_keywords": [answer],
                    "answerable": True,
                    "source": name,
                }
                sets[split_of(position)].append(json.dumps(item, ensure_ascii=False))
    for split, lines in sets.items():
        (HERE / f"ar-{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"ar-{split}.jsonl: {len(lines)} questions")


if __name__ == "__main__":
    main()
