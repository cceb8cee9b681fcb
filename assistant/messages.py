"""Every sentence the assistant says on its own, in both languages, in one place.

What the corpus covers is never written here: refusals and help texts name
the documents' own titles (``covers``), so they stay true when the corpus
changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assistant.text import Language

MESSAGES: dict[str, dict[str, str]] = {
    "refusal": {
        "en": "The documents here do not cover this question, so I will not guess. They are about: {covers}.",
        "ar": "لا تغطي المستندات المتاحة هذا السؤال، لذلك لن أخمّن. موضوعاتها: {covers}.",
    },
    "refusal_empty_store": {
        "en": "There are no documents to answer from yet. Add files to the corpus folder and run the ingest.",
        "ar": "لا توجد مستندات للإجابة منها بعد. أضف ملفات إلى مجلد المصادر ثم شغّل الفهرسة.",
    },
    "unsure": {
        "en": "These passages may not answer this ({reason}). Here is what comes closest:",
        "ar": "قد لا تجيب هذه المقاطع عن السؤال ({reason}). إليك أقرب ما وُجد:",
    },
    # an empty box has no language: both, each on its own line
    "empty": {"en": "Please type a question.\nمن فضلك اكتب سؤالًا.", "ar": "من فضلك اكتب سؤالًا.\nPlease type a question."},
    "too_long": {
        "en": "The question is too long ({n} characters; the limit is {limit}). Please shorten it.",
        "ar": "السؤال طويل جدًا ({n} حرفًا، والحد {limit}). من فضلك اختصره.",
    },
    "quote": {"en": "From the sources (quoted, no language model):", "ar": "من المصادر (اقتباس حرفي، دون نموذج لغوي):"},
    "quote_other_language": {
        "en": "(Quoted in {name}, the language of the source.)",
        "ar": "(اقتُبس النص ب{name}، لغة مصدره.)",
    },
    "quote_some_other_language": {
        "en": "(Some lines are quoted in {name}, the language of their source.)",
        "ar": "(بعض الأسطر مقتبسة ب{name}، لغة مصدرها.)",
    },
    "fallback": {
        "en": "The language model is unavailable ({error}); here are the passages' own words instead.",
        "ar": "النموذج اللغوي غير متاح ({error})؛ إليك نص المصادر نفسه بدلًا من ذلك.",
    },
    "set_aside": {
        "en": "The language model's answer {why}, so the passages' own words are shown instead.",
        "ar": "إجابة النموذج اللغوي {why}، لذا يُعرض نص المقاطع نفسه بدلًا منها.",
    },
    "no_support": {"en": "The passages found do not state this.", "ar": "المقاطع التي وُجدت لا تذكر ذلك."},
    "error": {
        "en": "Something went wrong while answering ({kind}). Please try again.",
        "ar": "حدث خطأ أثناء الإجابة ({kind}). حاول مرة أخرى.",
    },
}

# Reasons an "unsure" answer gives, filled into the "unsure" message.
REASONS: dict[str, dict[str, str]] = {
    "number": {"en": "no number is given for what you ask", "ar": "لا تذكر عددًا لما تسأل عنه"},
    "date": {"en": "no date is given for what you ask", "ar": "لا تذكر تاريخًا لما تسأل عنه"},
    "uncovered": {"en": "they do not mention: {words}", "ar": "لا تذكر: {words}"},
    "weak": {"en": "they match the question only loosely", "ar": "تطابق السؤال بشكل ضعيف"},
    "unknown": {"en": "the documents never mention {names}", "ar": "لا تذكر المستندات {names} أصلًا"},
    "unquoted": {"en": "the quoted passages do not name {names}", "ar": "لا تذكر المقاطع المقتبسة {names}"},
    # why a generated answer was set aside (filled into "set_aside")
    "uncited": {"en": "cited none of the passages", "ar": "لم تستشهد بأي مقطع"},
    "unsupported": {"en": "is not supported by the passages it cites", "ar": "لا تدعمها المقاطع التي استشهدت بها"},
}

LANGUAGE_NAMES = {"en": ("English", "الإنجليزية"), "ar": ("Arabic", "العربية")}
COVERS_SHOWN = 6  # titles named in a refusal; the rest are counted


def message(key: str, language: Language, **values: Any) -> str:
    return MESSAGES[key][language].format(**values)


def covers(titles: Sequence[str], language: Language) -> str:
    """The corpus's topics from its document titles: "A, B, C and 12 more"."""
    shown = list(titles[:COVERS_SHOWN])
    if not shown:
        return "—"
    rest = len(titles) - len(shown)
    joiner = "، " if language == "ar" else ", "
    text = joiner.join(shown)
    if rest > 0:
        text += f" و{rest} غيرها" if language == "ar" else f" and {rest} more"
    return text


def reason_text(kind: str, language: Language, **values: Any) -> str:
    return REASONS[kind][language].format(**values)
