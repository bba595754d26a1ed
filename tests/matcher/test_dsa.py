"""DSA statements of reasons: golden bodies, conformance checks, batch limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reclaim.matcher import dsa
from reclaim.matcher.dsa import DsaConfig, StatementInput, batch, check, statement
from reclaim.matcher.errors import ConfigError, MatcherError, StatementError

DECIDED = datetime(2026, 3, 4, 23, 30, tzinfo=UTC)
EU27 = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR",
    "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI",
    "SK",
]  # fmt: skip
TERMS = (
    "Terms of service: intimate images or videos shared without the consent"
    " of the person depicted are prohibited."
)
TERMS_EXPLANATION = (
    "The content is an intimate image or video shared without the consent of"
    " the person depicted, which the terms of service prohibit."
)


def test_auto_actioned_image_match() -> None:
    body = statement(
        StatementInput(
            puid="reclaim-match-42",
            decided_at=DECIDED,
            content_type="image",
            automated_detection=True,
            automated_decision="fully",
            source="voluntary",
        ),
        DsaConfig(),
    )
    assert body == {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "content_type": ["CONTENT_TYPE_IMAGE"],
        "category": "STATEMENT_CATEGORY_CYBER_VIOLENCE",
        "category_specification": ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"],
        "incompatible_content_ground": TERMS,
        "incompatible_content_explanation": TERMS_EXPLANATION,
        "territorial_scope": EU27,
        "content_date": "2026-03-04",
        "application_date": "2026-03-04",
        "decision_facts": (
            "The image matched, by hash, an entry in a list of hashes of intimate"
            " images and videos that the people depicted reported as shared"
            " without their consent. It was removed automatically on that basis,"
            " without human review."
        ),
        "source_type": "SOURCE_VOLUNTARY",
        "automated_detection": "Yes",
        "automated_decision": "AUTOMATED_DECISION_FULLY",
        "puid": "reclaim-match-42",
    }
    assert check(body) == []
    # The body is plain JSON, as the API takes it.
    assert json.loads(json.dumps(body)) == body


def test_moderator_confirmed_video_match() -> None:
    config = DsaConfig(
        terms_ground="Terms of service, section 4.2 (intimate imagery)",
        terms_url="https://platform.example/terms#4.2",
        incompatible_also_illegal=True,
        content_language="EN",
        account_type="ACCOUNT_TYPE_PRIVATE",
    )
    body = statement(
        StatementInput(
            puid="reclaim-match-43",
            decided_at=DECIDED,
            # Uploaded the evening before in UTC+2: the 3rd in UTC.
            content_date=datetime(
                2026, 3, 4, 1, 0, tzinfo=timezone(timedelta(hours=2))
            ),
            content_type="video",
            automated_detection=True,
            automated_decision="partially",
            source="voluntary",
            territorial_scope=("FR", "DE", "NO", "DE"),
        ),
        config,
    )
    assert body == {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "account_type": "ACCOUNT_TYPE_PRIVATE",
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "decision_ground_reference_url": "https://platform.example/terms#4.2",
        "content_type": ["CONTENT_TYPE_VIDEO"],
        "category": "STATEMENT_CATEGORY_CYBER_VIOLENCE",
        "category_specification": ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"],
        "incompatible_content_ground": (
            "Terms of service, section 4.2 (intimate imagery)"
        ),
        "incompatible_content_explanation": TERMS_EXPLANATION,
        "incompatible_content_illegal": "Yes",
        "territorial_scope": ["DE", "FR", "NO"],
        "content_language": "EN",
        "content_date": "2026-03-03",
        "application_date": "2026-03-04",
        "decision_facts": (
            "The video matched, by hash, an entry in a list of hashes of intimate"
            " images and videos that the people depicted reported as shared"
            " without their consent. A moderator confirmed the match before it"
            " was removed."
        ),
        "source_type": "SOURCE_VOLUNTARY",
        "automated_detection": "Yes",
        "automated_decision": "AUTOMATED_DECISION_PARTIALLY",
        "puid": "reclaim-match-43",
    }
    assert check(body) == []


def test_removal_request_notice_on_illegal_ground() -> None:
    config = DsaConfig(
        legal_ground="Section 201a StGB (Germany)",
        legal_ground_url="https://www.gesetze-im-internet.de/stgb/__201a.html",
        source_identity="Reclaim victim registry",
        # Not for illegal-ground statements: must not appear.
        incompatible_also_illegal=True,
    )
    body = statement(
        StatementInput(
            puid="reclaim-request-RR-7F3K",
            decided_at=DECIDED,
            content_date=datetime(2025, 12, 24, 8, 0, tzinfo=UTC),
            content_type=None,
            automated_detection=False,
            automated_decision="not",
            source="notice",
            ground="illegal",
            explanation="Shared without consent, as the notice states.",
            territorial_scope=("DE",),
        ),
        config,
    )
    assert body == {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "decision_ground_reference_url": (
            "https://www.gesetze-im-internet.de/stgb/__201a.html"
        ),
        "content_type": ["CONTENT_TYPE_OTHER"],
        "content_type_other": "Image or video (media type not recorded)",
        "category": "STATEMENT_CATEGORY_CYBER_VIOLENCE",
        "category_specification": ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"],
        "illegal_content_legal_ground": "Section 201a StGB (Germany)",
        "illegal_content_explanation": "Shared without consent, as the notice states.",
        "territorial_scope": ["DE"],
        "content_date": "2025-12-24",
        "application_date": "2026-03-04",
        "decision_facts": (
            "A notice reported the media file as an intimate image or video shared"
            " without the consent of the person depicted. A moderator reviewed the"
            " content, which was then removed."
        ),
        "source_type": "SOURCE_ARTICLE_16",
        "source_identity": "Reclaim victim registry",
        "automated_detection": "No",
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "puid": "reclaim-request-RR-7F3K",
    }
    assert check(body) == []


def _good() -> dict[str, object]:
    return statement(
        StatementInput(
            puid="reclaim-match-1",
            decided_at=DECIDED,
            content_type="image",
            automated_detection=True,
            automated_decision="fully",
            source="voluntary",
        ),
        DsaConfig(),
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"category": "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR"}, "category: "),
        ({"automated_detection": "yes"}, "automated_detection: "),
        ({"decision_visibility": ["REMOVED"]}, "decision_visibility: 'REMOVED'"),
        ({"decision_visibility": "DECISION_VISIBILITY_CONTENT_REMOVED"}, "array"),
        ({"territorial_scope": ["UK"]}, "territorial_scope: 'UK'"),
        ({"content_language": "en"}, "content_language: "),
        ({"puid": None}, "puid: required"),
        ({"puid": "reclaim match 1"}, "puid: only letters"),
        ({"puid": "x" * 501}, "puid: 501 characters"),
        ({"decision_facts": "  "}, "decision_facts: required"),
        ({"decision_facts": "x" * 5001}, "decision_facts: 5001 characters"),
        ({"content_type": []}, "content_type: required"),
        ({"content_date": "2026-03-04-23"}, "content_date: '2026-03-04-23'"),
        ({"content_date": "1999-12-31"}, "content_date: 1999-12-31 is outside"),
        ({"application_date": "2026-02-30"}, "application_date: "),
        ({"end_date_visibility_restriction": "2026-03-01"}, "before the application"),
        ({"decision_visibility": None}, "decision_visibility: required when"),
        ({"illegal_content_explanation": "x"}, "only allowed with DECISION_GROUND_I"),
        ({"incompatible_content_ground": ""}, "incompatible_content_ground: req"),
        ({"source_identity": "someone"}, "not allowed with SOURCE_VOLUNTARY"),
        ({"content_type": ["CONTENT_TYPE_OTHER"]}, "content_type_other: required"),
        ({"content_type_other": "x"}, "content_type_other: only allowed"),
        ({"decision_ground_reference_url": "terms"}, "is not a URL"),
        ({"media_hash": "f00d"}, "media_hash: not a field"),
        ({"category_addition": ["STATEMENT_CATEGORY_VIOLENCE"] * 2}, "given twice"),
    ],
)
def test_check_finds_a_seeded_fault(change: dict[str, object], expected: str) -> None:
    body = _good() | change
    problems = check(body)
    assert any(expected in p for p in problems), problems


def test_check_wants_illegal_fields_with_the_illegal_ground() -> None:
    body = _good() | {"decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT"}
    problems = check(body)
    assert any(p.startswith("illegal_content_legal_ground: required") for p in problems)
    assert any(
        p.startswith("incompatible_content_ground: only allowed") for p in problems
    )


def test_batch_wraps_up_to_the_documented_maximum() -> None:
    bodies = [_good() | {"puid": f"reclaim-match-{i}"} for i in range(dsa.MAX_BATCH)]
    assert dsa.MAX_BATCH == 100
    assert batch(bodies) == {"statements": bodies}


@pytest.mark.parametrize("count", [0, 101])
def test_batch_refuses_an_empty_or_oversized_call(count: int) -> None:
    bodies = [_good() | {"puid": f"reclaim-match-{i}"} for i in range(count)]
    with pytest.raises(StatementError, match=f"{count} statements in one call"):
        batch(bodies)


def test_batch_refuses_a_repeated_puid_and_names_bad_statements() -> None:
    bodies = [_good(), _good() | {"automated_decision": "maybe"}]
    with pytest.raises(StatementError) as caught:
        batch(bodies)
    message = str(caught.value)
    assert "statement_1: puid 'reclaim-match-1' appears twice" in message
    assert "statement_1: automated_decision: 'maybe'" in message
    assert "statement_0" not in message
    assert isinstance(caught.value, MatcherError)


def test_statement_refuses_what_the_api_would_refuse() -> None:
    decision = StatementInput(
        puid="reclaim match 9",
        decided_at=DECIDED,
        content_type="image",
        automated_detection=True,
        automated_decision="fully",
        source="voluntary",
        explanation="x" * 2001,
    )
    with pytest.raises(StatementError) as caught:
        statement(decision, DsaConfig())
    assert "puid: only letters" in str(caught.value)
    assert "incompatible_content_explanation: 2001 characters" in str(caught.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"decided_at": datetime(2026, 3, 4)}, "expected a UTC datetime"),
        ({"source": "registry"}, "source 'registry'"),
        ({"content_date": DECIDED + timedelta(seconds=1)}, "after decided_at"),
    ],
)
def test_input_refuses_bad_values(change: dict[str, object], expected: str) -> None:
    fields: dict[str, object] = {
        "puid": "reclaim-match-5",
        "decided_at": DECIDED,
        "content_type": "image",
        "automated_detection": True,
        "automated_decision": "fully",
        "source": "voluntary",
    }
    with pytest.raises(StatementError, match=expected):
        StatementInput(**(fields | change))  # type: ignore[arg-type]


def test_config_refuses_unknown_codes() -> None:
    with pytest.raises(ConfigError, match="territorial_scope item 'UK'"):
        DsaConfig(territorial_scope=("DE", "UK"))
    with pytest.raises(ConfigError, match="STATEMENT_CATEGORY_NON_CONSENSUAL"):
        DsaConfig(category="STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR")


def test_default_category_is_the_2025_schema_for_intimate_imagery() -> None:
    config = DsaConfig()
    assert config.category in dsa.CATEGORIES
    assert config.category_specification == ("KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",)
    assert "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR" not in dsa.CATEGORIES
    assert "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT" not in dsa.CATEGORIES
    assert len(dsa.EU_COUNTRIES) == 27 and len(dsa.COUNTRIES) == 30


_text = st.text(max_size=300)  # no surrogates: the body must encode as JSON
_moment = st.datetimes(
    min_value=datetime(2020, 1, 2),
    max_value=datetime(2037, 12, 30),
    timezones=st.just(UTC),
)


@st.composite
def _inputs(draw: st.DrawFn) -> tuple[StatementInput, DsaConfig]:
    decided = draw(_moment)
    uploaded = draw(
        st.none()
        | st.datetimes(
            min_value=datetime(2000, 1, 2),
            max_value=decided.replace(tzinfo=None),
            timezones=st.just(UTC),
        )
    )
    decision = StatementInput(
        puid=draw(st.from_regex(r"[A-Za-z0-9_-]{1,500}", fullmatch=True)),
        decided_at=decided,
        content_date=uploaded,
        content_type=draw(st.sampled_from(["image", "video", None])),
        automated_detection=draw(st.booleans()),
        automated_decision=draw(st.sampled_from(["fully", "partially", "not"])),
        source=draw(st.sampled_from(["voluntary", "notice", "trusted_flagger"])),
        ground=draw(st.sampled_from(["illegal", "incompatible"])),
        explanation=draw(st.none() | _text),
        ground_text=draw(st.none() | _text),
        facts=draw(st.none() | _text),
        territorial_scope=draw(
            st.none() | st.lists(st.sampled_from(sorted(dsa.COUNTRIES))).map(tuple)
        ),
        decision_visibility=draw(
            st.none()
            | st.lists(
                st.sampled_from(
                    sorted(dsa.DECISION_VISIBILITIES - {"DECISION_VISIBILITY_OTHER"})
                ),
                min_size=1,
                unique=True,
            ).map(tuple)
        ),
        content_language=draw(st.none() | st.sampled_from(sorted(dsa.LANGUAGES))),
    )
    config = DsaConfig(
        incompatible_also_illegal=draw(st.none() | st.booleans()),
        category=draw(st.sampled_from(sorted(dsa.CATEGORIES))),
        category_specification=tuple(
            draw(
                st.lists(
                    st.sampled_from(sorted(dsa.KEYWORDS - {"KEYWORD_OTHER"})),
                    unique=True,
                )
            )
        ),
        decision_account=draw(
            st.none() | st.sampled_from(sorted(dsa.DECISION_ACCOUNTS))
        ),
        source_identity=draw(st.none() | _text.filter(lambda t: t.strip() != "")),
        terms_url=draw(st.none() | st.just("https://platform.example/terms")),
    )
    return decision, config


@settings(max_examples=200, deadline=None)
@given(_inputs())
def test_every_built_statement_passes_check(
    pair: tuple[StatementInput, DsaConfig],
) -> None:
    decision, config = pair
    body = statement(decision, config)
    assert check(body) == []
    assert set(body) <= set(dsa.FIELDS)
    assert body["puid"] == decision.puid
    assert all(value is not None for value in body.values())
    assert json.loads(json.dumps(body)) == body
