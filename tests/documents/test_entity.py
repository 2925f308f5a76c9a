import pytest

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents.entity import Entity

JSON = {
    "start": 3, "end": 6, "text": "p53", "type": "Gene/Protein", "dataset": "BC2GM",
    "score": 0.25, "datasets": ["BC2GM", "JNLPBA"],
}  # fmt: skip


def test_json_round_trip_and_key_order():
    entity = Entity.from_json(JSON)
    assert entity == Entity(3, 6, "p53", "Gene/Protein", "BC2GM", 0.25, ("BC2GM", "JNLPBA"))
    assert entity.to_json() == JSON
    assert list(entity.to_json()) == ["start", "end", "text", "type", "dataset", "score", "datasets"]


def test_optional_fields():
    entity = Entity.from_json({"start": "0", "end": 9, "type": "chemical"})
    assert entity == Entity(0, 9, "", "chemical", "", 1.0, ())


@pytest.mark.parametrize(
    "value, message",
    [
        ({"end": 2, "type": "X"}, "entity without 'start'"),
        ({"start": 0, "end": "two", "type": "X"}, "entity 'end' must be int, got 'two'"),
        ({"start": 0, "end": 2}, "entity without 'type'"),
        ({"start": 0, "end": 2, "type": "X", "score": None}, "'score' must be a number"),
        ({"start": 0, "end": 2, "type": "X", "datasets": "ab"}, "'datasets' must be a list"),
        ([0, 2, "X"], "must be a JSON object"),
    ],
)
def test_bad_json(value, message):
    with pytest.raises(InputFormatError, match=message):
        Entity.from_json(value)
