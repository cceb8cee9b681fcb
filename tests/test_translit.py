"""Names across scripts by their consonants (assistant.translit)."""

from __future__ import annotations

import pytest

from assistant.translit import arabic_skeleton, arabic_spellings, latin_skeleton, may_be_written, name_runs, written_in_arabic


@pytest.mark.parametrize(("latin", "arabic"), [
    ("Antarah", "عنترة"), ("Yousra", "يسرا"), ("Naguib", "نجيب"), ("Mahfouz", "محفوظ"), ("Suleiman", "سليمان"),
    ("Spain", "إسبانيا"), ("Yarmouk", "اليرموك"), ("Kubernetes", "كوبرنيتس"), ("Cardano", "كاردانو"),
    ("al-Mutanabbi", "المتنبي"), ("Hassan", "حسان"), ("Zidane", "زيدان"),
    ("Manning", "مانينغ"), ("Turing", "تورينج"), ("Kuechly", "كوتشلي"), ("Ghassan", "غسان"),  # hard g, ch
])
def test_a_name_and_its_arabic_spelling_share_a_skeleton(latin: str, arabic: str) -> None:
    assert latin_skeleton(latin) == arabic_skeleton(arabic)
    assert arabic_spellings(latin, ["في", arabic, "وكان"]) == [arabic]


@pytest.mark.parametrize(("latin", "arabic"), [("Solana", "كاردانو"), ("Render", "ريتشوال"), ("Nasser", "نيسان")])
def test_different_names_do_not_match(latin: str, arabic: str) -> None:
    assert arabic_spellings(latin, [arabic]) == []


@pytest.mark.parametrize(("latin", "arabic"), [("Sisi", "السيسي"), ("Mona", "منى"), ("Lisa", "ليس")])
def test_names_of_fewer_than_three_consonants_never_match(latin: str, arabic: str) -> None:
    """Two consonants match half the dictionary: too weak to call a question on topic."""
    assert latin_skeleton(latin) == arabic_skeleton(arabic)
    assert arabic_spellings(latin, [arabic]) == []


def test_latin_words_in_the_passages_are_not_arabic_spellings() -> None:
    assert arabic_spellings("Nosana", ["Nosana", "nsn"]) == []


@pytest.mark.parametrize(("question", "name", "passage", "written"), [
    ("Who won Super Bowl 50?", "Bowl", "فاز دنفر في سوبر بول 50", True),  # BL alone is too short; SBR+BL is not
    ("How many Grammys has Lady Gaga won?", "Lady", "غنت ليدي غاغا النشيد الوطني", True),
    ("Who won Super Bowl 50?", "Bowl", "اشترى الخبز من السوبر ماركت", False),
    ("Who won Super Bowl 50?", "Super", "بول وحده", False),  # one word of the name is not the name
])
def test_a_short_name_word_is_matched_with_its_neighbours(question: str, name: str, passage: str, written: bool) -> None:
    assert written_in_arabic(name, name_runs(question), [passage.split()]) is written


@pytest.mark.parametrize(("name", "words", "may"), [
    ("Jeddah", ["محطة", "جدة"], True),  # two consonants: not enough to put a question on topic, enough to doubt "never"
    ("Alkhair", ["رأس", "الخير"], True),  # the article written onto the name
    ("Tawilah", ["The", "Taweelah", "plant"], True),  # a Latin spelling with other vowels
    ("Tawilah", ["title", "tall", "towel"], False),  # other consonant letters, or the same classes in other letters
    ("Gulf", ["الخليج"], False),  # a translation, not a transliteration
])
def test_may_be_written_only_doubts_a_name_is_missing(name: str, words: list[str], may: bool) -> None:
    assert may_be_written(name, words) is may
    if len(latin_skeleton(name)) < 3:
        assert arabic_spellings(name, words) == []  # the strict test still does not match it
