"""DSA statements of reasons (Art. 17) in the EU Transparency Database's API format.

Pure: builds and checks the JSON bodies, sends nothing. One decision of the
matcher (a hash match acted on, or a removal request granted) becomes one
statement; `batch` wraps up to `MAX_BATCH` of them for the multiple endpoint
(`POST /api/v1/statements`), `check` lists what the API would refuse.

Field names, allowed values, lengths and date rules follow:

- https://transparency.dsa.ec.europa.eu/page/api-documentation
- https://transparency.dsa.ec.europa.eu/page/additional-explanation-for-statement-attributes
- the database's own validator (github.com/digital-services-act/transparency-database,
  app/Http/Requests/StatementStoreRequest.php and GroupedSubmissionsService.php,
  snapshot of June 2026), which the page above is generated from.

The schema is the one in force since 1 July 2025: non-consensual intimate
imagery is category STATEMENT_CATEGORY_CYBER_VIOLENCE with the keyword
KEYWORD_NON_CONSENSUAL_IMAGE_SHARING (the old STATEMENT_CATEGORY_NON_CONSENSUAL_
BEHAVIOUR is gone). The API wants no personal data: statements name no person,
file, hash or notifier unless a platform configures a `source_identity`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args

from reclaim.matcher.errors import ConfigError, StatementError

MAX_BATCH = 100  # "The multiple endpoint is capable of making 100 statements per call."


def _names(prefix: str, names: str) -> frozenset[str]:
    return frozenset(prefix + name for name in names.split())


DECISION_VISIBILITIES = _names(
    "DECISION_VISIBILITY_",
    "CONTENT_REMOVED CONTENT_DISABLED CONTENT_DEMOTED CONTENT_AGE_RESTRICTED"
    " CONTENT_INTERACTION_RESTRICTED CONTENT_LABELLED OTHER",
)
DECISION_MONETARIES = _names("DECISION_MONETARY_", "SUSPENSION TERMINATION OTHER")
DECISION_PROVISIONS = _names(
    "DECISION_PROVISION_",
    "PARTIAL_SUSPENSION TOTAL_SUSPENSION PARTIAL_TERMINATION TOTAL_TERMINATION",
)
DECISION_ACCOUNTS = _names("DECISION_ACCOUNT_", "SUSPENDED TERMINATED")
ACCOUNT_TYPES = _names("ACCOUNT_TYPE_", "BUSINESS PRIVATE")
ILLEGAL = "DECISION_GROUND_ILLEGAL_CONTENT"
INCOMPATIBLE = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
DECISION_GROUNDS = frozenset({ILLEGAL, INCOMPATIBLE})
CONTENT_TYPES = _names(
    "CONTENT_TYPE_", "APP AUDIO IMAGE PRODUCT SYNTHETIC_MEDIA TEXT VIDEO OTHER"
)
CATEGORIES = _names(
    "STATEMENT_CATEGORY_",
    "ANIMAL_WELFARE CONSUMER_INFORMATION CYBER_VIOLENCE CYBER_VIOLENCE_AGAINST_WOMEN"
    " DATA_PROTECTION_AND_PRIVACY_VIOLATIONS ILLEGAL_OR_HARMFUL_SPEECH"
    " INTELLECTUAL_PROPERTY_INFRINGEMENTS"
    " NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS NOT_SPECIFIED_NOTICE"
    " OTHER_VIOLATION_TC PROTECTION_OF_MINORS RISK_FOR_PUBLIC_SECURITY"
    " SCAMS_AND_FRAUD SELF_HARM UNSAFE_AND_PROHIBITED_PRODUCTS VIOLENCE",
)
KEYWORDS = _names(
    "KEYWORD_",
    "ADULT_SEXUAL_MATERIAL AGE_SPECIFIC_RESTRICTIONS AGE_SPECIFIC_RESTRICTIONS_MINORS"
    " ANIMAL_HARM BIOMETRIC_DATA_BREACH BULLYING_AGAINST_GIRLS"
    " CHILD_SEXUAL_ABUSE_MATERIAL CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE"
    " CONTENT_PROMOTING_EATING_DISORDERS COORDINATED_HARM COPYRIGHT_INFRINGEMENT"
    " CYBER_BULLYING_INTIMIDATION CYBER_HARASSMENT CYBER_HARASSMENT_AGAINST_WOMEN"
    " CYBER_INCITEMENT CYBER_STALKING CYBER_STALKING_AGAINST_WOMEN"
    " DATA_FALSIFICATION DEFAMATION DESIGN_INFRINGEMENT DISCRIMINATION"
    " FEMALE_GENDERED_DISINFORMATION GEOGRAPHIC_INDICATIONS_INFRINGEMENT"
    " GEOGRAPHICAL_REQUIREMENTS GOODS_SERVICES_NOT_PERMITTED"
    " GROOMING_SEXUAL_ENTICEMENT_MINORS HATE_SPEECH HIDDEN_ADVERTISEMENT"
    " HUMAN_EXPLOITATION HUMAN_TRAFFICKING ILLEGAL_ORGANIZATIONS"
    " IMPERSONATION_ACCOUNT_HIJACKING INAUTHENTIC_ACCOUNTS INAUTHENTIC_LISTINGS"
    " INAUTHENTIC_USER_REVIEWS INCITEMENT_AGAINST_WOMEN INCITEMENT_VIOLENCE_HATRED"
    " INSUFFICIENT_INFORMATION_ON_TRADERS LANGUAGE_REQUIREMENTS"
    " MISINFORMATION_DISINFORMATION MISLEADING_INFO_CONSUMER_RIGHTS"
    " MISLEADING_INFO_GOODS_SERVICES MISSING_PROCESSING_GROUND"
    " NON_CONSENSUAL_IMAGE_SHARING NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN"
    " NON_CONSENSUAL_MATERIAL_DEEPFAKE NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN"
    " NONCOMPLIANCE_PRICING NUDITY PATENT_INFRINGEMENT PHISHING PROHIBITED_PRODUCTS"
    " PYRAMID_SCHEMES RIGHT_TO_BE_FORGOTTEN RISK_ENVIRONMENTAL_DAMAGE"
    " RISK_PUBLIC_HEALTH SELF_MUTILATION STALKING SUICIDE TERRORIST_CONTENT"
    " TRADE_SECRET_INFRINGEMENT TRADEMARK_INFRINGEMENT TRAFFICKING_WOMEN_GIRLS"
    " UNLAWFUL_SALE_ANIMALS UNSAFE_CHALLENGES UNSAFE_PRODUCTS VIOLATION_EU_LAW"
    " VIOLATION_NATIONAL_LAW OTHER",
)
SOURCE_TYPES = _names(
    "SOURCE_", "ARTICLE_16 TRUSTED_FLAGGER TYPE_OTHER_NOTIFICATION VOLUNTARY"
)
AUTOMATED_DECISIONS = _names("AUTOMATED_DECISION_", "FULLY PARTIALLY NOT_AUTOMATED")
YES_NO = frozenset({"Yes", "No"})
EU_COUNTRIES: tuple[str, ...] = tuple(
    (
        "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE"
        " SI SK"
    ).split()
)
# territorial_scope takes EU and EEA codes (Iceland, Liechtenstein, Norway).
COUNTRIES = frozenset(EU_COUNTRIES) | {"IS", "LI", "NO"}
# content_language: upper-case ISO 639-1 codes (the API's list, `BH` included).
LANGUAGES = frozenset(
    (
        "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co"
        " cr cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl"
        " gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg"
        " ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk"
        " ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps"
        " pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta"
        " te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za"
        " zh zu"
    )
    .upper()
    .split()
)

# Every field the create endpoints take, in the order of the documented example.
FIELDS = tuple(
    (
        "decision_visibility decision_visibility_other decision_monetary"
        " decision_monetary_other end_date_monetary_restriction decision_provision"
        " end_date_service_restriction decision_account end_date_account_restriction"
        " account_type decision_ground decision_ground_reference_url content_type"
        " content_type_other category category_addition category_specification"
        " category_specification_other illegal_content_legal_ground"
        " illegal_content_explanation incompatible_content_ground"
        " incompatible_content_explanation incompatible_content_illegal"
        " territorial_scope content_language content_date content_id"
        " application_date end_date_visibility_restriction decision_facts source_type"
        " source_identity automated_detection automated_decision puid"
    ).split()
)
# territorial_scope is documented as required; the validator lets it be null.
REQUIRED = tuple(
    (
        "decision_ground content_type category territorial_scope content_date"
        " application_date decision_facts source_type automated_detection"
        " automated_decision puid"
    ).split()
)
MAX_LENGTH = dict.fromkeys(
    (
        "decision_visibility_other decision_monetary_other"
        " decision_ground_reference_url content_type_other"
        " category_specification_other illegal_content_legal_ground"
        " incompatible_content_ground source_identity puid"
    ).split(),
    500,
) | {
    "illegal_content_explanation": 2000,
    "incompatible_content_explanation": 2000,
    "decision_facts": 5000,
}
# (first, last) day each date may take; end dates must also not precede the
# application date.
DATE_RANGES = {
    "content_date": (date(2000, 1, 1), date(2038, 1, 1)),
    "application_date": (date(2020, 1, 1), date(2038, 1, 1)),
} | {
    f"end_date_{kind}_restriction": (date.min, date(2038, 1, 1))
    for kind in ("account", "monetary", "service", "visibility")
}
_ENUMS: dict[str, frozenset[str]] = {
    "decision_monetary": DECISION_MONETARIES,
    "decision_provision": DECISION_PROVISIONS,
    "decision_account": DECISION_ACCOUNTS,
    "account_type": ACCOUNT_TYPES,
    "decision_ground": DECISION_GROUNDS,
    "category": CATEGORIES,
    "incompatible_content_illegal": YES_NO,
    "content_language": LANGUAGES,
    "source_type": SOURCE_TYPES,
    "automated_detection": YES_NO,
    "automated_decision": AUTOMATED_DECISIONS,
}
_ARRAY_ENUMS: dict[str, frozenset[str]] = {
    "decision_visibility": DECISION_VISIBILITIES,
    "content_type": CONTENT_TYPES,
    "category_addition": CATEGORIES,
    "category_specification": KEYWORDS,
    "territorial_scope": COUNTRIES,
}
# A field named "<x>_other" is wanted exactly when field x holds the OTHER value.
_OTHERS = (
    ("decision_visibility", "DECISION_VISIBILITY_OTHER", "decision_visibility_other"),
    ("decision_monetary", "DECISION_MONETARY_OTHER", "decision_monetary_other"),
    ("content_type", "CONTENT_TYPE_OTHER", "content_type_other"),
    ("category_specification", "KEYWORD_OTHER", "category_specification_other"),
)
_ILLEGAL_FIELDS = ("illegal_content_legal_ground", "illegal_content_explanation")
_INCOMPATIBLE_FIELDS = (
    "incompatible_content_ground",
    "incompatible_content_explanation",
)
_PUID = re.compile(r"[A-Za-z0-9_-]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_URL = re.compile(r"https?://[^\s/?#]+\.[^\s/?#]+[^\s]*")

ContentType = Literal["image", "video"]
Automation = Literal["fully", "partially", "not"]
Source = Literal["voluntary", "notice", "trusted_flagger"]
Ground = Literal["illegal", "incompatible"]

_CONTENT_TYPE = {"image": "CONTENT_TYPE_IMAGE", "video": "CONTENT_TYPE_VIDEO"}
_AUTOMATION = {
    "fully": "AUTOMATED_DECISION_FULLY",
    "partially": "AUTOMATED_DECISION_PARTIALLY",
    "not": "AUTOMATED_DECISION_NOT_AUTOMATED",
}
_SOURCE = {
    "voluntary": "SOURCE_VOLUNTARY",
    "notice": "SOURCE_ARTICLE_16",
    "trusted_flagger": "SOURCE_TRUSTED_FLAGGER",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DsaConfig:
    """Platform-wide settings of every statement; defaults fit intimate imagery.

    Texts go into a public database: they must hold no personal data.
    """

    # Ground texts. The legal ground differs by Member State: set it to the
    # provisions the platform relies on.
    legal_ground: str = (
        "National criminal law of the Member State(s) concerned on the non-consensual"
        " sharing of intimate images; Article 5 of Directive (EU) 2024/1385 on"
        " combating violence against women and domestic violence."
    )
    legal_ground_url: str | None = None
    illegal_explanation: str = (
        "The content is an intimate image or video shared without the consent of"
        " the person depicted, which the legal ground cited makes illegal."
    )
    terms_ground: str = (
        "Terms of service: intimate images or videos shared without the consent"
        " of the person depicted are prohibited."
    )
    terms_url: str | None = None
    incompatible_explanation: str = (
        "The content is an intimate image or video shared without the consent of"
        " the person depicted, which the terms of service prohibit."
    )
    # "Yes"/"No" for incompatible_content_illegal; None leaves it out, which
    # the API says implies nothing about legality.
    incompatible_also_illegal: bool | None = None
    category: str = "STATEMENT_CATEGORY_CYBER_VIOLENCE"
    category_addition: tuple[str, ...] = ()
    category_specification: tuple[str, ...] = ("KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",)
    decision_visibility: tuple[str, ...] = ("DECISION_VISIBILITY_CONTENT_REMOVED",)
    decision_monetary: str | None = None
    decision_provision: str | None = None
    decision_account: str | None = None
    account_type: str | None = None
    territorial_scope: tuple[str, ...] = EU_COUNTRIES
    content_language: str | None = None
    # Sent for notices only; never a person's name or contact details.
    source_identity: str | None = None
    # content_type_other when the caller does not know image from video.
    unknown_content_type: str = "Image or video (media type not recorded)"

    def __post_init__(self) -> None:
        wrong = [
            f"{name}={value!r}"
            for name, value, allowed in (
                ("category", self.category, CATEGORIES),
                ("decision_monetary", self.decision_monetary, DECISION_MONETARIES),
                ("decision_provision", self.decision_provision, DECISION_PROVISIONS),
                ("decision_account", self.decision_account, DECISION_ACCOUNTS),
                ("account_type", self.account_type, ACCOUNT_TYPES),
                ("content_language", self.content_language, LANGUAGES),
            )
            if value is not None and value not in allowed
        ]
        for name, values, allowed in (
            ("category_addition", self.category_addition, CATEGORIES),
            ("category_specification", self.category_specification, KEYWORDS),
            ("decision_visibility", self.decision_visibility, DECISION_VISIBILITIES),
            ("territorial_scope", self.territorial_scope, COUNTRIES),
        ):
            wrong += [f"{name} item {v!r}" for v in values if v not in allowed]
        if wrong:
            raise ConfigError(
                f"DSA settings {', '.join(wrong)} are not values the Transparency"
                " Database accepts: use the documented enumeration names"
                " (reclaim.matcher.dsa constants)"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementInput:
    """What the matcher knows about one decision, before it becomes a statement.

    `puid` must be unique per statement and never reused (e.g. "reclaim-match-42").
    `content_date` is when the content was uploaded; None means unknown, and
    the decision date stands in for it (the API requires one, and the content
    was online by then at the latest). `explanation`, `ground_text` (the law,
    or the terms' clause) and `facts` default to texts from `DsaConfig` and the
    decision; `territorial_scope` and `decision_visibility` to the config's.
    """

    puid: str
    decided_at: datetime
    content_type: ContentType | None
    automated_detection: bool
    automated_decision: Automation
    source: Source
    ground: Ground = "incompatible"
    content_date: datetime | None = None
    explanation: str | None = None
    ground_text: str | None = None
    facts: str | None = None
    territorial_scope: tuple[str, ...] | None = None
    decision_visibility: tuple[str, ...] | None = None
    content_language: str | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name, value, kind in (
            ("content_type", self.content_type, ContentType),
            ("automated_decision", self.automated_decision, Automation),
            ("source", self.source, Source),
            ("ground", self.ground, Ground),
        ):
            allowed = get_args(kind)
            if value not in allowed and not (name == "content_type" and value is None):
                problems.append(f"{name} {value!r}: expected one of {allowed}")
        for name, moment in (
            ("decided_at", self.decided_at),
            ("content_date", self.content_date),
        ):
            if moment is not None and moment.utcoffset() is None:
                problems.append(f"{name} {moment.isoformat()}: expected a UTC datetime")
        if (
            not problems
            and self.content_date is not None
            and self.content_date > self.decided_at
        ):
            problems.append("content_date is after decided_at: expected no later")
        if problems:
            raise StatementError(
                f"Statement input {self.puid!r} cannot be used: {'; '.join(problems)}"
            )


def statement(decision: StatementInput, config: DsaConfig) -> dict[str, Any]:
    """One statement of reasons as the API's JSON object.

    Raises StatementError when the result would break a documented rule
    (a text too long, a malformed puid, an unknown code).
    """
    ground = ILLEGAL if decision.ground == "illegal" else INCOMPATIBLE
    source_type = _SOURCE[decision.source]
    body: dict[str, Any] = {
        "decision_visibility": list(
            decision.decision_visibility
            if decision.decision_visibility is not None
            else config.decision_visibility
        ),
        "decision_monetary": config.decision_monetary,
        "decision_provision": config.decision_provision,
        "decision_account": config.decision_account,
        "account_type": config.account_type,
        "decision_ground": ground,
    }
    if ground == ILLEGAL:
        body["decision_ground_reference_url"] = config.legal_ground_url
    else:
        body["decision_ground_reference_url"] = config.terms_url
    if decision.content_type is None:
        body["content_type"] = ["CONTENT_TYPE_OTHER"]
        body["content_type_other"] = config.unknown_content_type
    else:
        body["content_type"] = [_CONTENT_TYPE[decision.content_type]]
    body["category"] = config.category
    body["category_addition"] = list(config.category_addition) or None
    body["category_specification"] = list(config.category_specification) or None
    if ground == ILLEGAL:
        body["illegal_content_legal_ground"] = (
            _given(decision.ground_text) or config.legal_ground
        )
        body["illegal_content_explanation"] = (
            _given(decision.explanation) or config.illegal_explanation
        )
    else:
        body["incompatible_content_ground"] = (
            _given(decision.ground_text) or config.terms_ground
        )
        body["incompatible_content_explanation"] = (
            _given(decision.explanation) or config.incompatible_explanation
        )
        if config.incompatible_also_illegal is not None:
            body["incompatible_content_illegal"] = _yes_no(
                config.incompatible_also_illegal
            )
    scope = decision.territorial_scope or config.territorial_scope
    body["territorial_scope"] = sorted(set(scope))
    body["content_language"] = decision.content_language or config.content_language
    body["content_date"] = _day(decision.content_date or decision.decided_at)
    body["application_date"] = _day(decision.decided_at)
    body["decision_facts"] = _given(decision.facts) or _facts(
        decision, body["decision_visibility"]
    )
    body["source_type"] = source_type
    if source_type != "SOURCE_VOLUNTARY":
        body["source_identity"] = config.source_identity
    body["automated_detection"] = _yes_no(decision.automated_detection)
    body["automated_decision"] = _AUTOMATION[decision.automated_decision]
    body["puid"] = decision.puid
    result = {name: value for name, value in body.items() if value is not None}
    problems = check(result)
    if problems:
        raise StatementError(
            f"Statement {decision.puid!r} would be refused by the Transparency"
            f" Database: {'; '.join(problems)}. Fix the input or the DSA settings"
        )
    return result


def batch(statements: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The body of the multiple-statements endpoint: {"statements": [...]}.

    Refuses an empty call, more than MAX_BATCH statements, a puid given twice,
    or any statement `check` finds fault with (named by its index, as the API
    names them "statement_<i>").
    """
    if not 1 <= len(statements) <= MAX_BATCH:
        raise StatementError(
            f"{len(statements)} statements in one call: the API takes 1 to"
            f" {MAX_BATCH}; split them into calls of at most {MAX_BATCH}"
        )
    seen: set[object] = set()
    problems: list[str] = []
    for index, item in enumerate(statements):
        puid = item.get("puid")
        if puid in seen:
            problems.append(f"statement_{index}: puid {puid!r} appears twice")
        seen.add(puid)
        problems += [f"statement_{index}: {p}" for p in check(item)]
    if problems:
        raise StatementError(
            f"The batch would be refused as a whole: {'; '.join(problems)}."
            " Fix or drop these statements and build the batch again"
        )
    return {"statements": [dict(item) for item in statements]}


def check(body: Mapping[str, Any]) -> list[str]:
    """Problems of one statement against the documented rules; [] if none.

    A field set to None counts as absent, as it does for the API.
    """
    present = {k: v for k, v in body.items() if v is not None}
    problems = [
        f"{name}: not a field of the API" for name in present if name not in FIELDS
    ]
    for name in REQUIRED:
        if _blank(present.get(name)):
            problems.append(f"{name}: required")
    if all(
        _blank(present.get(n))
        for n in (
            "decision_visibility",
            "decision_monetary",
            "decision_provision",
            "decision_account",
        )
    ):
        problems.append(
            "decision_visibility: required when none of decision_monetary,"
            " decision_provision, decision_account is given"
        )
    for name, allowed in _ENUMS.items():
        value = present.get(name)
        if value is not None and value not in allowed:
            problems.append(f"{name}: {value!r} is not an allowed value")
    for name, allowed in _ARRAY_ENUMS.items():
        value = present.get(name)
        if value is None:
            continue
        if not isinstance(value, list):
            problems.append(f"{name}: expected an array, got {type(value).__name__}")
            continue
        problems += [
            f"{name}: {v!r} is not an allowed value" for v in value if v not in allowed
        ]
        if len(set(map(repr, value))) != len(value):
            problems.append(f"{name}: a value is given twice")
    for name, limit in MAX_LENGTH.items():
        value = present.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(f"{name}: expected a string, got {type(value).__name__}")
        elif len(value) > limit:
            problems.append(f"{name}: {len(value)} characters, at most {limit} allowed")
    puid = present.get("puid")
    if isinstance(puid, str) and puid and not _PUID.fullmatch(puid):
        problems.append("puid: only letters a-z A-Z, digits, '-' and '_' are allowed")
    url = present.get("decision_ground_reference_url")
    if isinstance(url, str) and not _URL.fullmatch(url):
        problems.append(f"decision_ground_reference_url: {url!r} is not a URL")
    problems += _check_conditions(present)
    problems += _check_dates(present)
    return problems


def _check_conditions(present: Mapping[str, Any]) -> list[str]:
    """Fields wanted only with a given ground, OTHER value or source."""
    problems: list[str] = []
    ground = present.get("decision_ground")
    for wanted_ground, names in (
        (ILLEGAL, _ILLEGAL_FIELDS),
        (INCOMPATIBLE, _INCOMPATIBLE_FIELDS),
    ):
        for name in names:
            if ground == wanted_ground and _blank(present.get(name)):
                problems.append(f"{name}: required with {wanted_ground}")
            elif ground != wanted_ground and name in present:
                problems.append(f"{name}: only allowed with {wanted_ground}")
    if "incompatible_content_illegal" in present and ground != INCOMPATIBLE:
        problems.append(
            f"incompatible_content_illegal: only allowed with {INCOMPATIBLE}"
        )
    for name, other_value, other_field in _OTHERS:
        value = present.get(name)
        chosen = (
            other_value in value if isinstance(value, list) else value == other_value
        )
        if chosen and _blank(present.get(other_field)):
            problems.append(f"{other_field}: required when {name} is {other_value}")
        elif not chosen and other_field in present:
            problems.append(f"{other_field}: only allowed when {name} is {other_value}")
    if (
        present.get("source_type") == "SOURCE_VOLUNTARY"
        and "source_identity" in present
    ):
        problems.append("source_identity: not allowed with SOURCE_VOLUNTARY")
    return problems


def _check_dates(present: Mapping[str, Any]) -> list[str]:
    """Dates are YYYY-MM-DD within the API's range; end dates not before the start."""
    problems: list[str] = []
    days: dict[str, date] = {}
    for name, (first, last) in DATE_RANGES.items():
        value = present.get(name)
        if value is None:
            continue
        day = _parse_day(value)
        if day is None:
            problems.append(f"{name}: {value!r} is not a date in the form YYYY-MM-DD")
        elif not first <= day <= last:
            problems.append(f"{name}: {value} is outside {first} to {last}")
        else:
            days[name] = day
    start = days.get("application_date")
    for name, day in days.items():
        if name.startswith("end_date_") and start is not None and day < start:
            problems.append(f"{name}: {day} is before the application_date {start}")
    return problems


def _parse_day(value: object) -> date | None:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return not value
    return False


def _given(text: str | None) -> str | None:
    """The text, or None where it is missing or blank (then a default applies)."""
    return text if text is not None and text.strip() else None


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def _yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


def _facts(decision: StatementInput, visibility: Sequence[str]) -> str:
    """decision_facts from what the matcher knows; no person, file or hash named."""
    if "DECISION_VISIBILITY_CONTENT_REMOVED" in visibility:
        done = "removed"
    elif "DECISION_VISIBILITY_CONTENT_DISABLED" in visibility:
        done = "made inaccessible"
    else:
        done = "restricted"
    noun = decision.content_type or "media file"
    matched = decision.source == "voluntary" or decision.automated_detection
    what = "match" if matched else "report"
    if decision.source == "voluntary":
        found = (
            f"The {noun} matched, by hash, an entry in a list of hashes of intimate"
            " images and videos that the people depicted reported as shared without"
            " their consent."
        )
    else:
        who = (
            "A trusted flagger" if decision.source == "trusted_flagger" else "A notice"
        )
        found = (
            f"{who} reported the {noun} as an intimate image or video shared without"
            " the consent of the person depicted."
        )
        if decision.automated_detection:
            found += " It was found on the platform by hash matching."
    decided = {
        "fully": f"It was {done} automatically on that basis, without human review.",
        "partially": f"A moderator confirmed the {what} before it was {done}.",
        "not": f"A moderator reviewed the content, which was then {done}.",
    }[decision.automated_decision]
    return f"{found} {decided}"
