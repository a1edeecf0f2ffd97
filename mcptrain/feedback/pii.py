"""Scrubbing personal data from a production record before it becomes a spec.

Emails, phone numbers and payment card numbers (13-19 digits passing the Luhn check) are
found anywhere in the record's text and values; names only where a field is marked as
holding one (`--name-field`), and then everywhere that name appears. Each distinct value
gets a stable placeholder (`person1@example.com`, `+1-555-0101`, `4000 0000 0000 0002`,
`Person 1`), the same in the query and the arguments, so the example stays coherent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# An apostrophe inside the local part is the address's (sam.o'neill@acme.io), not a quote's.
EMAIL = re.compile(r"[A-Za-z0-9_%+-][A-Za-z0-9._%+'-]*@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
PHONE = re.compile(r"(?<![\w-])\+?\(?\d{1,4}\)?(?:[ .-]?\(?\d{2,4}\)?){2,5}(?![\w-])")


@dataclass
class Scrubber:
    name_fields: frozenset[str] = frozenset()
    found: dict[str, int] = field(default_factory=dict)  # kind -> count
    _seen: dict[str, str] = field(default_factory=dict)  # original -> placeholder

    def names_in(self, value: Any) -> None:
        """Learn the names held by marked fields of `value` (arguments), before scrubbing."""
        if isinstance(value, dict):
            for k, v in value.items():
                if k in self.name_fields and isinstance(v, str) and v.strip():
                    self._placeholder("name", v.strip())
                else:
                    self.names_in(v)
        elif isinstance(value, list):
            for v in value:
                self.names_in(v)

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        return value

    def _text(self, text: str) -> str:
        for original, placeholder in sorted(self._seen.items(), key=lambda kv: -len(kv[0])):
            if original in text and placeholder.startswith("Person "):
                text = text.replace(original, placeholder)
        text = EMAIL.sub(lambda m: self._placeholder("email", m.group()), text)
        text = CARD.sub(lambda m: self._placeholder("card", m.group()) if _luhn(m.group()) else m.group(), text)
        return PHONE.sub(lambda m: self._placeholder("phone", m.group()) if _is_phone(m.group()) else m.group(),
                         text)

    def _placeholder(self, kind: str, original: str) -> str:
        if original in self._seen:
            return self._seen[original]
        n = self.found.get(kind, 0) + 1
        self.found[kind] = n
        placeholder = {"email": f"person{n}@example.com", "phone": f"+1-555-01{n:02d}",
                       "card": f"4000 0000 0000 {n:04d}", "name": f"Person {n}"}[kind]
        self._seen[original] = placeholder
        return placeholder


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        total += d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
    return total % 10 == 0


def _is_phone(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    return 9 <= digits <= 15 and (text.startswith("+") or any(c in text for c in " -.()"))
