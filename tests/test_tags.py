from biomtl_allennlp.common.tags import TagSpan, bioul_to_spans, spans_to_bioul, tags_to_spans


def test_bioul_to_spans_reads_any_scheme_leniently():
    assert bioul_to_spans(["B-A", "I-A", "L-A", "U-B", "O"]) == [TagSpan("A", 0, 2), TagSpan("B", 3, 3)]
    assert bioul_to_spans(["B-A", "I-A", "E-A", "S-B", "O"]) == [TagSpan("A", 0, 2), TagSpan("B", 3, 3)]
    assert bioul_to_spans(["B-A", "I-A", "B-A", "O", "I-B"]) == [
        TagSpan("A", 0, 1), TagSpan("A", 2, 2), TagSpan("B", 4, 4)
    ]
    assert bioul_to_spans(["I-A", "I-B", "E-B"]) == [TagSpan("A", 0, 0), TagSpan("B", 1, 2)]


def test_round_trip_and_repair_count():
    spans, repairs = tags_to_spans(["B-X", "I-X", "E-X", "O", "S-Y"], "IOBES")
    assert repairs == 0
    assert spans_to_bioul(spans, 5) == ["B-X", "I-X", "L-X", "O", "U-Y"]
    spans, repairs = tags_to_spans(["I-X", "I-X", "O", "B-Y"], "BIO")
    assert repairs == 1 and spans == [TagSpan("X", 0, 1), TagSpan("Y", 3, 3)]
