"""The YAML summary emitter: whatever it writes, PyYAML reads back as the same document, keys in order."""
from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from gridregime.collect.summary import dump_summary, load_summary

KEYS = st.from_regex(r"^[a-z_][a-z0-9_]{0,12}$", fullmatch=True) | st.text(min_size=1, max_size=8)
SCALARS = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
DOCS = st.recursive(
    st.dictionaries(KEYS, SCALARS | st.lists(SCALARS, max_size=4), max_size=5),
    lambda children: st.dictionaries(KEYS, children | SCALARS | st.lists(SCALARS, max_size=4), max_size=4),
    max_leaves=20,
)


@given(DOCS)
def test_pyyaml_reads_back_every_emitted_document_in_key_order(doc):
    text = dump_summary(doc)
    for loader in (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        back = yaml.load(text, Loader=loader)
        assert back == (doc or None) or (doc == {} and back is None)
        if doc:
            assert list(back) == list(doc)


def test_tricky_scalars_keep_their_type():
    doc = {"summary_format": 1, "a": "yes", "b": "null", "c": "2021-04-19T05:00:00Z", "d": 1e-05, "e": "1.0",
           "f": "- x: y # z", "g": "line\nbreak\u2028sep\x85", "h": -0.0, "i": 12345678901234567890,
           "j": [], "k": {}, "l": ["", " lead", "trail "]}
    back = load_summary(dump_summary(doc))
    assert back == doc and list(back) == list(doc)
    assert type(back["d"]) is float and type(back["a"]) is str and type(back["c"]) is str
