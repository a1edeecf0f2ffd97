"""What the decoder's call rules rely on, counted on an organisation's own data.

`evaluation.fresh_calls` rewrites a call that repeats one already made, and
`evaluation.named_ids` sends a turn on to another call while the user's last message
names an id no call has taken (`evaluation.named_values`: or states another value of an
enum parameter a call set to a stated value). All are right only as far as the expected calls of the
data behave that way; this prints, for the train and validation splits of the dataset
`mcptrain build` compiled (the scored splits are not read):

- expected calls that repeat a call of their history or their turn (fresh calls assume
  none), out of the calls made after another one;
- call ends by what follows (another call of the turn, or the end of the turn) and by
  whether a named id, or a named value, is still untaken there (the rules assume
  "untaken" means "another");
- calls after another of their turn, made while something named is untaken, by whether
  they take some of it (`evaluation.take_named` assumes they do).

    .venv/bin/python benchmarks/call_ends.py [repository root]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mcptrain.training.grounding import (
    Named,
    earlier_calls,
    first_repeat,
    named_ids,
    named_values,
)


def main(root: Path) -> None:
    repeats = later = 0
    ends: Counter[tuple[str, str, str]] = Counter()
    takes: Counter[tuple[str, str]] = Counter()
    for split in ("train", "validation"):
        for line in (root / "datasets" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            for i, message in enumerate(row["messages"]):
                if message.get("role") != "assistant" or not message.get("tool_calls"):
                    continue
                before = {**row, "messages": row["messages"][:i]}
                calls = []
                for call in message["tool_calls"]:
                    arguments = call["function"]["arguments"]
                    calls.append((call["function"]["name"],
                                  json.loads(arguments) if isinstance(arguments, str) else arguments))
                history = earlier_calls(before)
                repeats += first_repeat(calls, history) is not None
                later += bool(history) + len(calls) - 1
                ids, values = Named(named_ids(before)), Named(frozenset(), named_values(before), tuple(history))
                both = Named(named_ids(before), named_values(before), tuple(history))
                for k in range(1, len(calls)):
                    left, took = both.progress(calls[:k])
                    if left:
                        after, took_after = both.progress(calls[: k + 1])
                        takes[(split, "takes some" if left - after and took_after > took else "takes none")] += 1
                for k in range(len(calls)):
                    untaken = [kind for kind, named in (("a named id", ids), ("a named value", values))
                               if named.untaken(calls[: k + 1])]
                    ends[(split, "another call" if k < len(calls) - 1 else "end of turn",
                          " and ".join(untaken) + " untaken" if untaken else "none untaken")] += 1
    print(f"expected turns repeating a call made before: {repeats} (calls after another call: {later})")
    print("call ends (split, what follows, named ids and values):")
    for key, n in sorted(ends.items()):
        print(f"  {' / '.join(key)}: {n}")
    print("calls after another while something named is untaken (split, whether they take some of it):")
    for key, n in sorted(takes.items()):
        print(f"  {' / '.join(key)}: {n}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
