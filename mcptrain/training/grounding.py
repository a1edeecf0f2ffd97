"""Grounded identifiers: a call may only name ids the conversation holds.

The commonest wrong call of a small fine-tuned model is a well-formed call with an
invented id: asked "Refund the customer", it writes `refund_payment(payment_id="P-123456789")`
instead of asking which payment. An identifier is never something a model can know; it
comes from the user, the system turn's context or an earlier tool result. So, under
constrained decoding, every string parameter whose `pattern` requires a digit (`^P-[0-9]+$`,
`^ORD-\\d+$`: what ids look like) is narrowed to the values matching that pattern that
occur in the conversation so far (an `enum`), and a tool that *requires* such an id when
the conversation holds none cannot be called at all: the grammar leaves the model a text
answer, which is where "which payment?" belongs. A property that is optional and has no
value is dropped.

Only patterns that require a digit count as identifiers: `^[A-Z]{2}$` (a country code) is
derived from "London" as often as copied, while an id with digits is copied or invented.
Strings of `format: email` or `format: uuid` are identifiers too (an address or a uuid
is copied, never derived); `date` and other formats are not ("next Tuesday").
Everything else in the schema (enums, types, other formats) is the grammar's usual business.
On the demo organisation's training and validation rows every such value of every
expected call occurs in the conversation before the call (578 of 578), which is the
property this rule relies on; `evaluation.ground_identifiers: false` turns it off.

Stated values (`evaluation.stated_values`) are the converse, for a parameter a model
leaves out: an optional string parameter with an `enum` becomes required when the user
says one of its values in so many words ("send it express" and `shipping: [standard,
express, overnight]`; `left_company` said as "left company"). Which value it takes is
still the model's choice among the enum (a date written with its year, `stated_dates`, is
the one exception: it is the value). On the demo's training and validation rows,
an optional enum parameter whose value the user states is in the expected call 90 times
of 92; the rule is chosen or not on the validation split (README).

Said values (`evaluation.vocabulary_values`) read the organisation's vocabulary the same
way: a parameter with canonical values ("what users say instead": `sms: [text, text
message]`) takes only the values the user says, as themselves or as a synonym, and must
be given; an optional one the user says nothing of is left out (asked "Any tickets from
C-204?", the model no longer adds `status: open`). A value an earlier call of another tool
took (`used_values`) is neither said nor stated for the calls after it.
With `evaluation.unsaid_required` (off by default), a tool whose required vocabulary
parameter nobody said is not offered at all, as a tool needing an absent id is not.

Invented values (`evaluation.invented_values`) check a call once it is written: a
free-text value that shares no word with the conversation, or a number, date or time in
a conversation that gives none (`invented_values`), makes the predictor leave that call
out; a turn left with none is decoded again as a text answer.

Named ids and named values (`evaluation.named_ids`, `evaluation.named_values`) read what
the user's last message asks a turn to act on (`Named`): while an id it names, or another
stated value of an enum parameter a call set to a stated value, is untaken, the turn goes
on with another call.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from mcptrain.content import content_text

_DIGIT_CLASS = re.compile(r"\\d|0-9")


@lru_cache(maxsize=512)
def identifier_regex(pattern: str) -> re.Pattern[str] | None:
    """A regex that finds `pattern`'s values inside text, or None when `pattern` does not
    look like an id's (it requires no digit) or is not a regex Python can search with."""
    if not _DIGIT_CLASS.search(pattern):
        return None
    core = pattern.removeprefix("^").removesuffix("$")
    try:
        # Not inside a longer run of id characters: "U-12" is not a value in "U-123".
        return re.compile(rf"(?<![\w-])(?:{core})(?![\w-])")
    except re.error:
        return None


def conversation_text(row: dict[str, Any]) -> str:
    """Everything the prompt says before the assistant's turn: message texts, earlier calls'
    arguments and tool results (what an id may be copied from)."""
    from mcptrain.training.prompt import prompt_messages

    parts: list[str] = []
    for message in prompt_messages(row):
        content = message.get("content")
        if content is not None:
            parts.append(content if isinstance(content, str) else json.dumps(content, ensure_ascii=False))
        for call in message.get("tool_calls") or []:
            parts.append(json.dumps(call, ensure_ascii=False))
    return "\n".join(parts)


def said_text(row: dict[str, Any]) -> str:
    """What the conversation says before the assistant's turn, the system turn left out:
    the user's words, earlier calls' arguments and tool results (where a canonical value
    is said, `said_values`)."""
    from mcptrain.training.prompt import prompt_messages

    return conversation_text({**row, "messages": [m for m in prompt_messages(row) if m.get("role") != "system"]})


def user_text(row: dict[str, Any]) -> str:
    """What the user said before the assistant's turn (the only place a value is *stated*)."""
    from mcptrain.training.prompt import prompt_messages

    return "\n".join(m["content"] for m in prompt_messages(row)
                     if m.get("role") == "user" and isinstance(m.get("content"), str))


def stated(value: str, text: str) -> bool:
    """Whether `text` says `value` as words: case-insensitive, `_` and `-` read as spaces;
    not inside a longer word (a value that starts or ends with a symbol, `$` or `€`, may
    touch the number beside it)."""
    words = [w for w in re.split(r"[_\s-]+", value.strip().lower()) if w]
    if not words:
        return False
    phrase = r"[_\s-]+".join(re.escape(w) for w in words)
    left = r"(?<![\w])" if re.match(r"\w", words[0]) else ""
    right = r"(?![\w])" if re.search(r"\w$", words[-1]) else ""
    return re.search(left + phrase + right, text.lower()) is not None


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december")
_MONTH = r"(?P<{}>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_DAY = r"(?P<{}>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<{}>(?:19|20)\d\d)(?!\d))?"
# 2025-11-01 (or 2025-11-01T09:00); October 3, 2025; June 3; 12 June 2026; the 15th of
# January 2026; January 5th 2026. Not after a digit's `:` or `.` (9:30 March 3, v1.12 June).
_DATE = re.compile(
    r"(?<![\w:.-])(?:(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})(?:(?=T\d)|(?![\w-]))"
    r"|" + _MONTH.format("am") + r"\.?\s+" + _DAY.format("ad") + r"(?!\d|:)" + _YEAR.format("ay") +
    r"|(?:the\s+)?" + _DAY.format("bd") + r"\s+(?:of\s+)?" + _MONTH.format("bm") + r"\b" + _YEAR.format("by") + r")",
    re.IGNORECASE)


def stated_dates(text: str) -> list[str]:
    """The calendar dates `text` writes, as ISO dates (`--MM-DD` without a year), distinct,
    in order: "2025-11-01", "October 3, 2025", "12 June 2026", "the 15th of January"
    ("May" only capitalised, as a month; a day the calendar lacks is no date). A date also
    written with its year is not counted again without it. Relative dates ("last week")
    are not stated."""
    found = []
    for m in _DATE.finditer(text):
        if m["iy"]:
            year, number, day = m["iy"], int(m["im"]), m["id"]
        else:
            month, day, year = (m["am"], m["ad"], m["ay"]) if m["am"] else (m["bm"], m["bd"], m["by"])
            if month.lower() == "may" and month != "May":
                continue
            number = next(i for i, name in enumerate(_MONTHS, 1) if name.startswith(month.lower()[:3]))
        try:
            date(int(year or 2000), number, int(day))  # 2000: a leap year, for "February 29"
        except ValueError:
            continue
        found.append(f"{year or '-'}-{number:02d}-{int(day):02d}")
    years = {d[4:] for d in found if not d.startswith("-")}
    return [d for d in dict.fromkeys(found) if not (d.startswith("--") and d[1:] in years)]


def require_stated(tools: Sequence[dict[str, Any]] | None, text: str,
                   used: dict[str, dict[str, set[str]]] | None = None) -> list[dict[str, Any]]:
    """`tools` with every optional parameter whose value `text` states made required
    (top-level parameters): a string enum one of whose
    values it states, and an identifier (`value_regex`) one of whose ids it holds — "Pay
    INV-123 for C-1042" gives `create_payment` its optional `invoice_id` — unless a required
    parameter of the tool could take that id. So do a tool's optional `date`/`date-time`
    parameters when the user writes at least as many calendar dates (`stated_dates`) as
    the tool has date parameters — "payments since 2025-11-01" gives `list_payments` its
    `since`; a date the tool's required date parameters would take first, and one date for
    `from`/`to`, ask nothing. Written with their year, at least as many as the tool has
    date parameters, the dates are the values: each `date` parameter, required or made
    required, takes one of them (the model no longer writes 2026-06-04 for "12 June 2026",
    nor 3032-03-03 for "March 3, 2026"; a parameter with a `pattern` is left to it, and one
    with an `enum` keeps only those of its values). Otherwise the schema is left as it is: which enum value a stated
    parameter takes is the model's choice. A
    value an earlier call of another tool took (`used`, as in `said_values`) is not stated
    for this one."""
    dates = stated_dates(text)
    out = []
    for tool in tools or []:
        found = _object_parameters(tool)
        if found is None:
            out.append(tool)
            continue
        function, parameters, props = found
        required = list(parameters.get("required") or [])
        tool_name = str(function.get("name"))
        # An id a required parameter could take ("from_account") asks nothing of an optional one.
        owned = [r for n in required if isinstance(props.get(n), dict) and (r := value_regex(props[n])) is not None]
        added = [name for name, sub in props.items()
                 if name not in required and isinstance(sub, dict) and sub.get("type") == "string"
                 and (isinstance(sub.get("enum"), list)
                      and any(isinstance(v, str) and v not in _taken(used, tool_name, name)
                              and stated(v, text) for v in sub["enum"])
                      or (regex := value_regex(sub)) is not None
                      and any(v not in _taken(used, tool_name, name)
                              and not any(found_values(r, v) == [v] for r in owned)
                              for v in found_values(regex, text)))]
        dated = [n for n, sub in props.items()
                 if isinstance(sub, dict) and sub.get("type") == "string" and sub.get("format") in ("date", "date-time")]
        optional = [n for n in dated if n not in required and n not in added]
        free = [d for d in dates if not any(d in _taken(used, tool_name, n) for n in dated)]
        if optional and len(free) >= len(dated):
            added += optional
        # Written with its year, a stated date is the value: each `date` parameter, required
        # or made required, takes one of them (when there are as many as the tool has).
        full = [d for d in free if not d.startswith("-")]
        narrowed = {}
        for n in dated if len(full) >= len(dated) else []:
            sub = props[n]
            values = [d for d in full if d in sub["enum"]] if isinstance(sub.get("enum"), list) else full
            if sub.get("format") == "date" and values and "pattern" not in sub:
                narrowed[n] = {**{k: v for k, v in sub.items() if k != "format"}, "enum": values}
        if not added and not narrowed:
            out.append(tool)
            continue
        out.append(_with_parameters(tool, function, {**parameters, "required": required + added,
                                                     "properties": {**props, **narrowed}}))
    return out


def used_values(row: dict[str, Any]) -> dict[str, dict[str, set[str]]]:
    """The string values the conversation's earlier calls gave, by tool and parameter."""
    used: dict[str, dict[str, set[str]]] = {}
    for tool, arguments in earlier_calls(row):
        for name, value in arguments.items() if isinstance(arguments, dict) else ():
            if isinstance(value, str):
                used.setdefault(tool, {}).setdefault(name, set()).add(value)
    return used


def _taken(used: dict[str, dict[str, set[str]]] | None, tool: str, parameter: str) -> set[str]:
    """The values of `parameter` that earlier calls of *other* tools took ("every open
    ticket": the listing's `status`), less those this tool took itself (closing ticket
    after ticket gives each the same `closed`)."""
    if not used:
        return set()
    others = {v for name, args in used.items() if name != tool for v in args.get(parameter, ())}
    return others - used.get(tool, {}).get(parameter, set())


def said_values(tools: Sequence[dict[str, Any]] | None, canonical: dict[str, Any] | None,
                text: str, context: str = "", used: dict[str, dict[str, set[str]]] | None = None,
                *, unsaid_required: bool = False) -> list[dict[str, Any]]:
    """`tools` with each top-level parameter that the vocabulary gives canonical values
    (`canonical`: `{tool: {parameter: {value: [what users say instead]}}}`, the rows'
    `canonical_values`) narrowed to what the user says (`text`): the values said as
    themselves or as one of their synonyms become the parameter's `enum`, and it becomes
    required; an optional one of which neither the user nor the rest of the conversation
    (`context`: earlier calls, tool results) says anything is dropped (unless the schema
    admits extra keys). A required one of which the user says nothing stays the model's
    choice, unless `unsaid_required`: then the conversation has not given what the tool
    needs, and the tool is left out (as `ground_tools` leaves out a tool needing an id the
    conversation does not hold), so the turn is answered in text, where "which role?"
    belongs. Values the schema's own `enum` does not allow are never offered. A value an
    earlier call of another tool took (`used`, `used_values`: "escalate every open ticket
    to urgent" lists `status: open`) counts as said for that call, not for this one."""
    if not canonical:
        return list(tools or [])
    words, elsewhere = _stems(text), _stems(context)
    out = []
    for tool in tools or []:
        found = _object_parameters(tool)
        terms = canonical.get(str(found[0].get("name"))) if found is not None else None
        if found is None or not terms:
            out.append(tool)
            continue
        function, parameters, props = found
        required = list(parameters.get("required") or [])
        props = dict(props)
        unsaid = False
        for name, values in terms.items():
            sub = props.get(name)
            if not isinstance(sub, dict) or sub.get("type", "string") != "string" or not isinstance(values, dict):
                continue
            allowed = sub.get("enum") if isinstance(sub.get("enum"), list) else None
            # The schema's own values count as themselves, listed in the vocabulary or not.
            options = {**{v: [] for v in allowed or [] if isinstance(v, str)}, **values}
            phrases = {v: [v, *(synonyms or [])] for v, synonyms in options.items() if allowed is None or v in allowed}
            if not phrases:
                continue  # no value it could take is listed: nothing to narrow to
            taken = _taken(used, str(function.get("name")), name)
            said = [v for v, xs in phrases.items() if v not in taken and any(_says(str(x), words, text) for x in xs)]
            if said:
                props[name] = {**sub, "enum": said}
                required += [] if name in required else [name]
            elif ((name not in required or unsaid_required)
                  and not any(_says(str(x), elsewhere, context) for v, xs in phrases.items() if v not in taken
                              for x in xs)):  # nothing in the whole conversation says it
                if name in required:  # (unsaid_required) the tool cannot be called
                    unsaid = True
                    break
                if parameters.get("additionalProperties") is not True:
                    del props[name]  # (a schema open to extra keys would let it back in unconstrained)
        if unsaid:
            continue
        out.append(_with_parameters(tool, function, {**parameters, "properties": props, "required": required}))
    return out


# Words that say nothing of a value: a made-up "the office" shares "the" with any request.
_STOPWORDS = frozenset("a an and are as at be by for from in is it of on or our that the this to with "
                       "my me your you we i".split())
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")  # no spaces between words
_LETTER = re.compile(r"[^\W\d_]")


def content_words(text: str) -> frozenset[str]:
    """`text`'s stemmed words and numbers, less the stopwords and single letters ("what's"
    gives no "s" to match a made-up "A-M-E-R-S"), and each of its CJK characters (scripts
    written without spaces, where a "word" would be the whole sentence)."""
    return (frozenset(w for w in _stems(text) if (len(w) > 1 or w.isdigit()) and w not in _STOPWORDS)
            | frozenset(_CJK.findall(text)))


# Words that give a number, a date or a time ("twice", "yesterday", "next week"). A
# conversation with none of them and no digit asked for no number: one in a call is made
# up (`invented_values`). English only: a conversation in another script is not judged.
_QUANTITY_WORDS = """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
thousand million billion dozen half quarter double triple twice once single couple few several first
second third last next previous past ago since until before after today tonight tomorrow yesterday now
recent recently latest earliest oldest newest week weekly month monthly year yearly annual day daily hour
minute morning afternoon evening night noon midnight weekend monday tuesday wednesday thursday friday
saturday sunday january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec""".split()
_QUANTITY_FORMATS = frozenset(("date", "date-time", "time"))


# A code's digits ("ORD-2750", "C-88", "U-2044") give no number: Latin letters starting
# a word, an optional separator, then a digit.
_CODE = re.compile(r"(?<![\w-])[A-Za-z]+[-_#]?\d[\w-]*")


def says_quantity(text: str) -> bool:
    """Whether `text` gives a number, a date or a time: a digit outside a code, or a word
    for one; any word outside ASCII counts (another language, whose words are not listed)."""
    words = content_words(_CODE.sub(" ", text))
    return any(w.isdigit() or not w.isascii() for w in words) or bool(words & _quantity_stems())


@lru_cache(maxsize=1)
def _quantity_stems() -> frozenset[str]:
    return frozenset(_stems(" ".join(_QUANTITY_WORDS)))


def invented_values(parameters: Any, arguments: Any, words: frozenset[str], path: str = "",
                    *, quantities: bool) -> list[str]:
    """The values of a call (`arguments` against its `parameters` schema, into objects)
    that nothing in the conversation (`words`, its `content_words`) gives.

    * A free-text value that shares no word with it: "Ship ORD-2301 to 10 Main Street"
      answered with `city: "New York"`, "What's the difference between the editor and
      viewer roles?" with `find_user(name="A-M-E-R-S")`. A value the schema shapes is
      left alone here: an enum, a `format` (dates, emails), an identifier
      (`ground_tools`' business); so is a code of up to four characters ("CA" for
      California, "EUR" for euros) and a value without a letter ("14:00" for "2 pm"),
      which are derived, not copied.
    * A number, a date or a time (a value with a digit and no letter, or a `date`,
      `date-time` or `time`) when the conversation gives none at all (`quantities`, its
      `says_quantity`):
      "thanks, that's all" answered with `create_payment(amount=10000)`, "Move ORD-2750's
      delivery somewhere else" with `list_orders(placed_after="2022-01-01")`. Derived values
      still pass whenever the conversation gives something to derive them from ("next
      week", "twice", "2 pm"), and so does a number the parameter's own schema writes
      (a default, an example: "1 for cleaning, 2 for ironing")."""
    if not isinstance(parameters, dict) or not isinstance(arguments, dict):
        return []
    props: dict[str, Any] = parameters["properties"] if isinstance(parameters.get("properties"), dict) else {}
    found: list[str] = []
    for name, value in arguments.items():
        sub = props.get(name)
        if not isinstance(sub, dict):
            continue
        if isinstance(value, dict):
            found += invented_values(sub, value, words, f"{path}{name}.", quantities=quantities)
        elif any(k in sub for k in ("enum", "const")):
            continue
        elif _quantity(value, sub):
            if not quantities and not _written_in(value, sub):
                found.append(f"{path}{name}")
        elif (isinstance(value, str) and sub.get("type") == "string" and value_regex(sub) is None
              and "format" not in sub
              and not (len(value.strip()) <= 4 and " " not in value.strip()) and _LETTER.search(value)):
            if not content_words(value) & words:  # (a value of single letters has none)
                found.append(f"{path}{name}")
    return found


def _quantity(value: Any, schema: dict[str, Any]) -> bool:
    """Whether `value` is a number, a date or a time: a JSON number, a string with a digit
    and no letter, or a string of a date or time `format`."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and (
        schema.get("format") in _QUANTITY_FORMATS or (bool(re.search(r"\d", value)) and not _LETTER.search(value)))


def _written_in(value: Any, schema: dict[str, Any]) -> bool:
    """Whether the numbers of `value` (4.0 as 4) all appear in `schema`'s own text: its
    description, default, examples and bounds."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    wanted = re.findall(r"\d+", str(value))
    written = set(re.findall(r"\d+", json.dumps(schema)))
    return bool(wanted) and all(w in written for w in wanted)


def _object_parameters(tool: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
    """(the tool's function, its parameters schema, their properties), or None when the
    tool has no object schema with properties to change."""
    from mcptrain.training.grammar import tool_function

    function = tool_function(tool)
    parameters = (function or {}).get("parameters") or {}
    props = parameters.get("properties") if isinstance(parameters, dict) else None
    if not function or not isinstance(props, dict):
        return None
    return function, parameters, props


def _with_parameters(tool: dict[str, Any], function: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """A copy of `tool` whose function takes `parameters`, in the tool's own shape."""
    new_function = {**function, "parameters": parameters}
    return {**tool, "function": new_function} if "function" in tool else new_function


def _stems(text: str) -> list[str]:
    """`text`'s words (runs of letters, runs of digits: "3pm" is 3 and pm; `_`, `-` and
    punctuation split them), stemmed."""
    from mcptrain.training.retrieval import stemmer

    return list(stemmer().stemWords(re.findall(r"[^\W\d_]+|\d+", text.lower())))


def _says(phrase: str, words: list[str], text: str) -> bool:
    """Whether the text (`words`, its `_stems`) says `phrase`: its stemmed words in a row
    ("closed" says "close", "duplicates" "duplicate"); a phrase without a letter or digit
    (`$`, `€`) as itself."""
    want = list(_phrase_stems(phrase))
    if not want:
        return bool(phrase.strip()) and phrase.strip() in text
    return any(words[i:i + len(want)] == want for i in range(len(words) - len(want) + 1))


@lru_cache(maxsize=4096)
def _phrase_stems(phrase: str) -> tuple[str, ...]:
    """`_stems` of a vocabulary value or synonym: the same few phrases, asked of every row."""
    return tuple(_stems(phrase))


def found_values(regex: re.Pattern[str], text: str) -> list[str]:
    """The distinct matches of `regex` in `text`, in order of first appearance."""
    return list(dict.fromkeys(m.group(0) for m in regex.finditer(text)))


class _Ungrounded(Exception):
    """A required identifier has no value in the conversation."""


# Formats whose values are copied, never derived: found in text like a pattern's ids.
FORMATS = {
    # An apostrophe may sit inside the local part (sam.o'neill@acme.io), not open it ('bob@x.io').
    "email": re.compile(r"(?<![\w.+-])[A-Za-z0-9_%+-][A-Za-z0-9._%+'-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
                        r"\.[A-Za-z]{2,}(?![\w-])"),
    "uuid": re.compile(r"(?<![\w-])[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}(?![\w-])"),
}


def value_regex(node: dict[str, Any]) -> re.Pattern[str] | None:
    """How to find the values of a string schema that holds an identifier, or None."""
    if node.get("type") != "string":
        return None
    pattern = node.get("pattern")
    if isinstance(pattern, str) and (regex := identifier_regex(pattern)):
        return regex
    fmt = node.get("format")
    return FORMATS.get(fmt) if isinstance(fmt, str) else None


def _ground(node: Any, text: str) -> Any:
    if not isinstance(node, dict):
        return node
    if regex := value_regex(node):
        values = found_values(regex, text)
        if not values:
            raise _Ungrounded
        out = {k: v for k, v in node.items() if k not in ("pattern", "format")}
        out["enum"] = values
        return out
    out = dict(node)
    props = node.get("properties")
    if isinstance(props, dict):
        required = set(node.get("required") or [])
        kept = {}
        for name, sub in props.items():
            try:
                kept[name] = _ground(sub, text)
            except _Ungrounded:
                if name in required:
                    raise
        out["properties"] = kept
    if isinstance(node.get("items"), dict):
        try:
            out["items"] = _ground(node["items"], text)
        except _Ungrounded:
            if int(node.get("minItems") or 0) > 0:
                raise
            out["maxItems"] = 0
    return out


def ground_tools(tools: Sequence[dict[str, Any]] | None, text: str) -> list[dict[str, Any]]:
    """`tools` as the grammar should offer them after `text`: identifier parameters narrowed
    to the ids `text` holds, and tools needing an id it does not hold left out."""
    from mcptrain.training.grammar import tool_function

    grounded = []
    for tool in tools or []:
        function = tool_function(tool)
        if not function:
            continue
        try:
            parameters = _ground(function.get("parameters") or {}, text)
        except _Ungrounded:
            continue
        grounded.append(_with_parameters(tool, function, parameters))
    return grounded


def earlier_calls(row: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, arguments) of every call the conversation's assistant turns made before the
    turn asked (arguments written as a JSON string are read)."""
    from mcptrain.training.prompt import prompt_messages

    calls = []
    for message in prompt_messages(row):
        for call in message.get("tool_calls") or []:
            function = call.get("function") or call
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except ValueError:
                    continue
            calls.append((str(function.get("name")), arguments))
    return calls


def first_repeat(calls: Sequence[tuple[str, Any] | None], earlier: Sequence[tuple[str, Any]] = ()) -> int | None:
    """The index of the first of `calls` that repeats a call made before it, in `earlier`
    or in `calls` itself: the same tool with the same arguments. None when none does (a
    call that could not be read, None, repeats nothing)."""
    made = {_call_key(call) for call in earlier}
    for k, call in enumerate(calls):
        if call is None:
            continue
        if _call_key(call) in made:
            return k
        made.add(_call_key(call))
    return None


def _call_key(call: tuple[str, Any]) -> tuple[str, str]:
    """A call as JSON, keys sorted: `1` and `1.0`, `true` and `1` differ (as `fresh_tools` sees them)."""
    return call[0], json.dumps(call[1], sort_keys=True, ensure_ascii=False)


FRESH_VARIANTS = 32  # schema variants `fresh_tools` writes per tool before it asks for new values only


def fresh_tools(tools: Sequence[dict[str, Any]] | None, made: Sequence[tuple[str, Any]]) -> list[dict[str, Any]]:
    """`tools` for a call that repeats none of `made`. A tool already called must differ
    from each of its calls in `made` in an enum or boolean parameter (after grounding, its
    ids are enums too): its schema becomes the variants that say where (each a choice, per
    earlier call, of a parameter required to take another value than that call's; variants
    another variant contains are left out). Beyond `FRESH_VARIANTS` variants, one per
    parameter asks a value no earlier call gave it. A difference in free text alone cannot
    be written in a schema, nor can leaving out a parameter an earlier call gave (every
    variant requires its parameter): a tool whose calls differ only so, or with no enum or
    boolean parameter, is not offered."""
    from mcptrain.training.grammar import tool_function

    out = []
    for tool in tools or []:
        name = str(tool_function(tool).get("name"))
        before = [arguments if isinstance(arguments, dict) else {} for n, arguments in made if n == name]
        if not before:
            out.append(tool)
            continue
        found = _object_parameters(tool)
        if found is None:
            continue
        function, parameters, props = found
        values = {p: v for p, sub in props.items() if (v := _choices(sub)) is not None}
        enums = {p: [json.dumps(v, sort_keys=True, ensure_ascii=False) for v in vs] for p, vs in values.items()}
        given = [{p: json.dumps(a[p], sort_keys=True, ensure_ascii=False) for p in enums if p in a} for a in before]
        choices = _differences(enums, given)
        variants = []
        for choice in choices:
            required = list(parameters.get("required") or [])
            narrowed = {p: {**props[p], "enum": [v for v, key in zip(values[p], enums[p], strict=True)
                                                 if key not in taken]} for p, taken in choice.items()}
            variants.append({**parameters, "properties": {**props, **narrowed},
                             "required": required + [p for p in choice if p not in required]})
        if variants:
            out.append(_with_parameters(tool, function, _one_of(variants)))
    return out


def _one_of(variants: list[dict[str, Any]]) -> dict[str, Any]:
    """A parameters schema admitting any of `variants` (each an object schema)."""
    return variants[0] if len(variants) == 1 else {"type": "object", "anyOf": variants}


def _choices(schema: Any) -> list[Any] | None:
    """The values a parameter can take when they are few: its enum, or true and false."""
    if not isinstance(schema, dict):
        return None
    if isinstance(schema.get("enum"), list):
        return list(schema["enum"])
    return [True, False] if schema.get("type") == "boolean" else None


def _differences(enums: dict[str, list[str]], given: list[dict[str, str]]) -> list[dict[str, frozenset[str]]]:
    """Ways to differ from every one of `given` (values by parameter, as JSON): each a map
    from parameters to the values they may not take, every one of them left some value."""
    ways: list[dict[str, frozenset[str]]] = [{}]
    for call in given:
        grown = []
        for way in ways:
            for p, values in enums.items():
                taken = way.get(p, frozenset()) | ({call[p]} if p in call else set())
                if set(values) - taken:
                    grown.append({**way, p: frozenset(taken)})
        ways = _loosest(grown)
        if len(ways) > FRESH_VARIANTS:  # too many to write: values no earlier call gave
            return [{p: frozenset(c[p] for c in given if p in c)} for p, values in enums.items()
                    if set(values) - {c[p] for c in given if p in c}]
    return ways


def _loosest(ways: list[dict[str, frozenset[str]]]) -> list[dict[str, frozenset[str]]]:
    """`ways` without repeats and without any another one admits everything of."""
    unique = list({tuple(sorted(w.items())): w for w in ways}.values())
    return [w for w in unique if not any(o is not w and o.keys() <= w.keys() and all(o[p] <= w[p] for p in o)
                                         for o in unique)]


def named_ids(row: dict[str, Any], offered: Sequence[dict[str, Any]] | None = None) -> frozenset[str]:
    """The ids the user's last message names that a call may take (values of an identifier
    parameter, `value_regex`, of the row's tools, or of those of them `offered` names when
    given) and that no call of the history took: what the turn is asked to act on and has
    not yet."""
    from mcptrain.training.grammar import tool_function

    said = last_user_text(row)
    if not said:
        return frozenset()
    names = None if offered is None else {tool_function(t).get("name") for t in offered}
    regexes: list[re.Pattern[str]] = []
    for tool in row.get("tools") or []:
        function = tool_function(tool)
        if names is None or function.get("name") in names:
            _identifier_regexes(function.get("parameters"), regexes)
    ids = {v for regex in regexes for v in found_values(regex, said)}
    return frozenset(ids - taken_values(earlier_calls(row)))


@dataclass(frozen=True, eq=False)
class Named:
    """What the user's last message asks a turn to act on: its ids (`named_ids`) and, for
    each tool and string-enum parameter, the values of that parameter it states
    (`named_values`); `history`, the calls made before the turn."""

    ids: frozenset[str] = frozenset()
    values: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    history: tuple[tuple[str, Any], ...] = ()

    def progress(self, calls: Sequence[tuple[str, Any]]) -> tuple[frozenset[str], int]:
        """What the turn's `calls` leave untaken, and how many named things they took. The
        named ids no call takes; and for a parameter a call of them set to a value the
        message states ("the pending, the failed and the refunded payments": `status:
        pending`), that tool's other stated values of it no call of the tool, in the turn
        or before it, gave (`list_payments.status=failed`)."""
        left, took = self.measure(calls)
        return frozenset(left.ids | {f"{tool}.{parameter}={v}" for tool, parameters in left.values.items()
                                     for parameter, vs in parameters.items() for v in vs}), took

    def untaken(self, calls: Sequence[tuple[str, Any]]) -> frozenset[str]:
        return self.progress(calls)[0]

    def left(self, calls: Sequence[tuple[str, Any]]) -> Left:
        """What `progress` leaves untaken, by kind: the ids, and the values by tool and parameter."""
        return self.measure(calls)[0]

    def measure(self, calls: Sequence[tuple[str, Any]]) -> tuple[Left, int]:
        """(`left`, how many named things `calls` took): what a call end needs, computed once."""
        taken = taken_values(calls)
        took = len(self.ids & taken)
        values: dict[str, dict[str, frozenset[str]]] = {}
        for tool, parameters in self.values.items():
            for parameter, stated_values in parameters.items():
                turn = _given(calls, tool, parameter) & stated_values
                if turn:
                    took += len(turn)
                    if rest := stated_values - turn - _given(self.history, tool, parameter):
                        values.setdefault(tool, {})[parameter] = frozenset(rest)
        return Left(self.ids - taken, values), took


@dataclass(frozen=True, eq=False)
class Left:
    """What a turn's calls have not taken of what is named (`Named.left`)."""

    ids: frozenset[str]
    values: dict[str, dict[str, frozenset[str]]]

    def __bool__(self) -> bool:
        return bool(self.ids or self.values)


def taking_tools(tools: Sequence[dict[str, Any]] | None, left: Left) -> list[dict[str, Any]]:
    """`tools` for a call that must take something named and still untaken (`left`): a
    top-level string parameter that can hold an untaken id (its `enum`, or its id pattern,
    `value_regex`, admits it) or that the tool's untaken values are of becomes a variant
    requiring it, narrowed to those values; a tool with several such parameters offers
    each as a variant, and a tool whose parameters are already variants (`fresh_tools`'
    `anyOf`) is narrowed variant by variant. A tool that could take an untaken id in an
    array or a nested object is offered as it is (a schema cannot say "some item is one of
    these"), and one that can take nothing untaken is not offered. Empty when no tool can
    take any of it."""
    from mcptrain.training.grammar import tool_function

    out = []
    for tool in tools or []:
        function = tool_function(tool)
        parameters = function.get("parameters") if function else None
        if not isinstance(parameters, dict):
            continue
        values = left.values.get(str(function.get("name")), {})
        branches = parameters["anyOf"] if "properties" not in parameters and isinstance(
            parameters.get("anyOf"), list) else [parameters]
        objects = [b for b in branches if isinstance(b, dict) and isinstance(b.get("properties"), dict)]
        if any(_holds_within(sub, left.ids) for b in objects for sub in b["properties"].values()):
            out.append(tool)
            continue
        variants = [v for b in objects for v in _taking_variants(b, values, left.ids)]
        if variants:
            out.append(_with_parameters(tool, function, _one_of(variants)))
    return out


def _taking_variants(parameters: dict[str, Any], values: dict[str, frozenset[str]],
                     ids: frozenset[str]) -> list[dict[str, Any]]:
    """`parameters` (an object schema) once per top-level string parameter that can take an
    untaken id or one of its untaken `values`: that parameter required, narrowed to them."""
    props, required = parameters["properties"], list(parameters.get("required") or [])
    variants = []
    for name, sub in props.items():
        if not _is_string(sub):
            continue
        wanted = set(values.get(name, ())) | _holds(sub, ids)
        if isinstance(sub.get("enum"), list):
            wanted &= set(sub["enum"])
        if wanted:
            allowed = [v for v in sub.get("enum") or sorted(wanted) if v in wanted]
            variants.append({**parameters, "properties": {**props, name: {**sub, "enum": allowed}},
                             "required": required + ([] if name in required else [name])})
    return variants


def _is_string(node: Any) -> bool:
    """Whether `node` is a string schema (`"string"`, or a list of types holding it)."""
    if not isinstance(node, dict):
        return False
    kind = node.get("type")
    return kind == "string" or (isinstance(kind, list) and "string" in kind)


def _holds(node: dict[str, Any], ids: frozenset[str]) -> set[str]:
    """The `ids` a string schema can hold: those its enum lists, or its id pattern matches."""
    if isinstance(node.get("enum"), list):
        return set(ids) & {v for v in node["enum"] if isinstance(v, str)}
    regex = value_regex(node)
    return {v for v in ids if regex.fullmatch(v)} if regex is not None else set()


def _holds_within(node: Any, ids: frozenset[str]) -> bool:
    """Whether an array's items or an object's properties, at any depth, can hold one of `ids`."""
    if not isinstance(node, dict) or not ids:
        return False
    inner = [node["items"]] if isinstance(node.get("items"), dict) else []
    if isinstance(node.get("properties"), dict):
        inner += [sub for sub in node["properties"].values() if isinstance(sub, dict)]
    return any((_is_string(sub) and _holds(sub, ids)) or _holds_within(sub, ids) for sub in inner)


def _given(calls: Sequence[tuple[str, Any]], tool: str, parameter: str) -> set[str]:
    """The string values `calls` of `tool` give its `parameter`."""
    return {a[parameter] for name, a in calls if name == tool and isinstance(a, dict) and isinstance(a.get(parameter), str)}


def named_values(row: dict[str, Any], offered: Sequence[dict[str, Any]] | None = None) -> dict[str, dict[str, frozenset[str]]]:
    """For each tool of the row (of those `offered` names, when given) and each of its
    top-level string-enum parameters, the values of it the user's last message states
    (`stated`), where it states two or more. Not named: a value said only inside another
    stated one ("New" in "Like New", "Drama" in "Comedy-drama"), values the enum tells apart
    only by case ("AA", "Aa", "aa"), and quantifiers ("all", "any")."""
    from mcptrain.training.grammar import tool_function

    said = last_user_text(row)
    names = None if offered is None else {tool_function(t).get("name") for t in offered}
    out: dict[str, dict[str, frozenset[str]]] = {}
    for tool in row.get("tools") or []:
        found = _object_parameters(tool)
        if found is None or (names is not None and found[0].get("name") not in names):
            continue
        function, _, props = found
        for parameter, sub in props.items():
            if isinstance(sub, dict) and sub.get("type") == "string" and isinstance(sub.get("enum"), list):
                enum = [v for v in sub["enum"] if isinstance(v, str)]
                cases = Counter(v.lower() for v in enum)
                spoken = {v for v in enum if cases[v.lower()] == 1 and v.lower() not in _QUANTIFIERS and stated(v, said)}
                values = frozenset(v for v in spoken if not any(w != v and stated(v, w) for w in spoken))
                if len(values) > 1:
                    out.setdefault(str(function.get("name")), {})[parameter] = values
    return out


# Enum values that say how many, not which: "show me all of my servers" asks for no `all` listing.
_QUANTIFIERS = frozenset({"all", "any", "none", "both", "each", "every", "either", "neither"})


def last_user_text(row: dict[str, Any]) -> str:
    """The text of the last user message before the turn."""
    from mcptrain.training.prompt import prompt_messages

    users = [m for m in prompt_messages(row) if m.get("role") == "user"]
    text = content_text(users[-1].get("content"), "\n") if users else ""
    return text if isinstance(text, str) else ""


def taken_values(calls: Sequence[tuple[str, Any] | None]) -> set[str]:
    """Every string value `calls` give, at any depth of their arguments."""
    out: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, str):
            out.add(node)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for call in calls:
        if call is not None:
            walk(call[1])
    return out


def _identifier_regexes(node: Any, out: list[re.Pattern[str]]) -> None:
    if not isinstance(node, dict):
        return
    if regex := value_regex(node):
        out.append(regex)
    for sub in (node.get("properties") or {}).values() if isinstance(node.get("properties"), dict) else ():
        _identifier_regexes(sub, out)
    _identifier_regexes(node.get("items"), out)
