from __future__ import annotations

import pytest

from mcptrain.specs.templates import TemplateExpansionError, expand_queries, render_value


def test_cross_product_in_order() -> None:
    out = expand_queries("{{ v }} ${{ d }}", {"v": ["Charge", "Bill"], "d": [20, 99.5]}, 10)
    assert [e.query for e in out] == ["Charge $20", "Charge $99.5", "Bill $20", "Bill $99.5"]


def test_single_expression_keeps_native_type() -> None:
    args = {"amount": "{{ (dollars * 100) | int }}", "invoice": "{{ inv }}", "note": "for {{ inv }}"}
    assert render_value(args, {"dollars": 99.5, "inv": "INV-7"}, ()) == {
        "amount": 9950, "invoice": "INV-7", "note": "for INV-7"
    }


def test_expansion_limit() -> None:
    with pytest.raises(TemplateExpansionError) as e:
        expand_queries("{{ a }}{{ b }}", {"a": list(range(40)), "b": list(range(40))}, 1000)
    assert e.value.message == (
        "template expands to 1600 queries; the limit is 1000 (max_template_expansions in mcptrain.yaml)"
    )


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ range(10**9) | list }}",
    ],
)
def test_sandbox_blocks_escapes_and_bombs(source: str) -> None:
    with pytest.raises(TemplateExpansionError):
        render_value(source, {}, ("x",))
