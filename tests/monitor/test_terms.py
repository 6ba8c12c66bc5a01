"""Every member of the vocabulary has words in both languages, so no page shows a bare key."""

from __future__ import annotations

from enum import StrEnum

import pytest

from monitor import terms
from monitor.pages.i18n import CATALOGUE, LANGUAGES
from rules.vocabulary import (
    Channel,
    ContactRole,
    Decision,
    IncidentState,
    MatterKind,
    NotificationState,
    ObligationState,
    Recipient,
    Role,
    Severity,
    StepKind,
    TimelineKind,
    WaiverState,
)

# The catalogue prefix the templates use for each enum: t("step." ~ n.step).
PREFIXES: tuple[tuple[type[StrEnum], str], ...] = (
    (StepKind, "step"), (ObligationState, "state"), (IncidentState, "state"), (NotificationState, "nstate"),
    (TimelineKind, "kind"), (WaiverState, "waiver"), (Decision, "decision"), (Role, "role"), (Severity, "severity"),
    (Channel, "channel"), (Recipient, "group"), (ContactRole, "contact"), (MatterKind, "matter"),
    (MatterKind, "duty"),
)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("enum", "prefix"), PREFIXES, ids=[e.__name__ for e, _ in PREFIXES])
def test_every_member_of_the_vocabulary_has_words_in_both_languages(enum, prefix, language):
    table = CATALOGUE[language]
    missing = [member.value for member in enum if not table.get(f"{prefix}.{member.value}", "").strip()]
    assert missing == [], f"{enum.__name__} members without {language} words: {missing}"


def test_each_table_of_words_covers_exactly_its_enum():
    for _, table in terms.TABLES:
        enum = type(next(iter(table)))
        assert set(table) == set(enum), enum.__name__
        assert all(zh and en for zh, en in table.values()), enum.__name__


def test_chinese_and_english_words_differ_where_the_languages_do():
    # A copy-paste slip would leave English on the Chinese page.
    for _, table in terms.TABLES:
        for member, (zh, en) in table.items():
            assert zh != en, member
