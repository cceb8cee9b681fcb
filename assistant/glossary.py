"""A small English -> Arabic glossary of the domain, for cross-lingual lexical matching.

The article is Arabic; an English question shares no words with it, so BM25
and the answerability check would see nothing. Dense e5 vectors bridge the
languages but blur exact terms. Expanding an English query with the Arabic
words the article uses for the same concepts gives the lexical leg (and the
refusal check) a second, exact view. The table covers the vocabulary of
decentralized AI / compute markets, not particular questions.
"""

from __future__ import annotations

import re

from assistant.text import normalize

# English stem -> Arabic words as the article writes them (normalized later).
EN_AR: dict[str, list[str]] = {
    "ai": ["الذكاء الاصطناعي"],
    "artificial": ["الذكاء الاصطناعي"],
    "intelligence": ["الذكاء"],
    "crypto": ["التشفير"],
    "cryptocurrency": ["التشفير"],
    "encrypt": ["التشفير"],
    "blockchain": ["البلوك تشين", "بلوك تشين"],
    "chain": ["بلوك تشين"],
    "decentral": ["لامركزية", "اللامركزية"],
    "centraliz": ["المركزي", "المركزية"],
    "train": ["تدريب", "التدريب"],
    "inferenc": ["الاستدلال"],
    "data": ["البيانات"],
    "token": ["توكنات", "التوكنات"],
    "tokeniz": ["تحويلها إلى توكنات", "توكنات"],
    "model": ["النماذج"],
    "agent": ["الوكلاء"],
    "storag": ["التخزين"],
    "stor": ["التخزين"],
    "stream": ["البث"],
    "gpu": ["وحدات معالجة الرسومات", "GPU"],
    "graphic": ["الرسومات"],
    "cpu": ["وحدات المعالجة المركزية"],
    "comput": ["الحوسبة", "حوسبة", "الحوسبية"],
    "cloud": ["السحابة", "سحابية", "السحابية"],
    "market": ["سوق", "أسواق", "السوق"],
    "marketplac": ["سوق"],
    "cost": ["التكاليف", "تكاليف"],
    "cheap": ["تكاليف", "خفض"],
    "price": ["تسعير"],
    "pric": ["تسعير", "التسعير"],
    "auction": ["المزاد"],
    "revers": ["العكسي"],
    "efficien": ["الكفاءة", "كفاءة"],
    "perform": ["الأداء"],
    "improv": ["لتحسين", "يعزز"],
    "reduc": ["تقليل", "لخفض"],
    "lower": ["تقليل", "لخفض"],
    "scarc": ["نادرة"],
    "rare": ["نادرة"],
    "valu": ["قيمة"],
    "intrinsic": ["جوهرية"],
    "resourc": ["الموارد", "موارد"],
    "unus": ["غير المستخدمة", "غير مستغلة"],
    "idl": ["غير المستخدمة"],
    "ownership": ["الملكية"],
    "own": ["الملكية"],
    "communit": ["المجتمعي"],
    "barrier": ["الحواجز"],
    "narrativ": ["السردية"],
    "utilit": ["المنفعة"],
    "growth": ["نمو"],
    "grow": ["نمو"],
    "potential": ["إمكانات"],
    "categor": ["الفئات"],
    "sector": ["القطاعات"],
    "gam": ["الألعاب"],
    "education": ["التعليم"],
    "educat": ["التعليم"],
    "applic": ["تطبيقات"],
    "app": ["تطبيقات"],
    "infrastructur": ["بنية تحتية", "البنية التحتية"],
    "protocol": ["بروتوكولات"],
    "smart": ["العقود الذكية"],
    "contract": ["العقود"],
    "render": ["الريندرينغ"],
    "imag": ["الصور"],
    "supercomput": ["أجهزة الكمبيوتر الفائقة"],
    "neural": ["العصبية"],
    "proof": ["إثبات"],
    "useful": ["المفيد"],
    "work": ["العمل"],
    "layer": ["طبقة"],
    "chatbot": ["روبوت المحادثة"],
    "assist": ["المساعد"],
    "orchestr": ["للتنظيم"],
    "similar": ["مشابهة"],
    "mov": ["انتقلت"],
    "migrat": ["انتقلت"],
    "focus": ["تركز"],
    "platform": ["منصة"],
    "network": ["شبكة", "الشبكات"],
    "servic": ["خدمة", "الخدمات"],
    "asset": ["الأصول"],
    "trad": ["تداول"],
    "attract": ["يجذب", "تجذب"],
    "user": ["المستخدمين"],
    "reward": ["تكافئ"],
    "particip": ["المشاركين"],
    "ecosystem": ["النظام البيئي"],
    "consensus": ["توافق"],
    "explor": ["الاستكشاف"],
    "shortag": ["نقص"],
    "stock": ["أسهم"],
    "share": ["أسهم"],
    "million": ["الملايين"],
    "emerg": ["ناشئة"],
    "next": ["التالي"],
    "generat": ["الجيل"],
    "integrat": ["يتكامل", "تدمج"],
    "access": ["الوصول"],
    "solution": ["الحلول", "حلولًا"],
}

_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ers", "er", "ies", "ied", "ed", "es", "ly", "s", "e", "y")


def english_stem(word: str) -> str:
    """Crude suffix stripping, enough to meet "pricing"/"price" or "tokenize"/"tokens" halfway."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


_NORMALIZED = {stem: [normalize(w) for w in words] for stem, words in EN_AR.items()}


def translations(token: str) -> list[str]:
    """Arabic renderings (normalized) of an English token, matched by stem prefix."""
    if not re.fullmatch(r"[a-z]+", token):
        return []
    stem = english_stem(token)
    out: list[str] = []
    for key, words in _NORMALIZED.items():
        if stem == key or (len(key) >= 4 and stem.startswith(key)) or (len(stem) >= 4 and key.startswith(stem)):
            out.extend(words)
    return out
