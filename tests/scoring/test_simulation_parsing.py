"""Reading the simulator's reply: text, log-probabilities, malformed and missing lines."""
import math

import pytest

from foundation.llm_chat import ChatReply, TokenLogprob
from scoring.simulation import ParsedReply, expected_value_from_top_logprobs, parse_simulation_reply, score_pass


def logprob_reply(lines):
    """A reply whose value tokens carry top log-probabilities: lines are (description, value token, top)."""
    tokens, text = [], ""
    for description, value, top in lines:
        pieces = [(description, {}), ("\t", {}), (value, top), ("\n", {})]
        for piece, alternatives in pieces:
            tokens.append(TokenLogprob(piece, 0.0, {k: math.log(p) for k, p in alternatives.items()}))
            text += piece
    return ChatReply(text=text, tokens=tokens)


def test_text_reply_inside_start_end_block_gives_one_value_per_line():
    reply = ChatReply(text="Sure:\n<start>\na red car\t7\na cat\t0\n<end>\nDone.", tokens=None)
    parsed = parse_simulation_reply(reply, ["a red car", "a cat"])
    assert parsed.predictions == [7.0, 0.0]
    assert parsed.summary() == {"parsed": 2, "malformed": 0, "missing": 0, "from_logprobs": 0, "from_text": 2}


def test_malformed_and_missing_lines_are_counted_and_never_read_as_zero():
    text = "a red car\t3\na cat 7\na dog\tten\na zebra\t4\na bus\tunk\na tree\t11\n"
    parsed = parse_simulation_reply(ChatReply(text, None), ["a red car", "a cat", "a dog", "a bus", "a tree", "a boat"])
    assert parsed.predictions == [3.0, None, None, None, None, None]
    assert parsed.missing == [1, 2, 3, 4, 5]
    reasons = [m["reason"] for m in parsed.malformed]
    assert reasons == [
        "no tab between description and activation",
        "activation is not a number from 0 to 10",
        "description not among those asked, or out of order",
        "activation left as unk",
        "activation is not a number from 0 to 10",
    ]
    score, reason = score_pass([1, 2, 3, 4, 5, 6], parsed)
    assert score is None and reason == "only 1 parsed lines"


def test_duplicate_captions_are_matched_in_order_and_never_collide():
    asked = ["a dog", "a cat", "a dog"]
    assert parse_simulation_reply(ChatReply("a dog\t2\na cat\t5\na dog\t9", None), asked).predictions == [2, 5, 9]
    skipped_first = parse_simulation_reply(ChatReply("a cat\t5\na dog\t9", None), asked)
    assert skipped_first.predictions == [None, 5, 9]
    assert skipped_first.missing == [0]


def test_expected_value_over_the_0_to_10_tokens_renormalised():
    assert expected_value_from_top_logprobs({"3": math.log(0.4), "4": math.log(0.4), "x": math.log(0.2)}) == pytest.approx(3.5)
    assert expected_value_from_top_logprobs({"10": math.log(0.5), " 0": math.log(0.5)}) == pytest.approx(5.0)
    assert expected_value_from_top_logprobs({"a": 0.0, "11": -1.0, "03": -1.0}) is None


def test_logprob_reply_uses_expected_values_and_falls_back_to_text_where_it_must():
    reply = logprob_reply(
        [
            ("a red car", "8", {"8": 0.5, "10": 0.5}),
            ("a cat", "1", {"1": 0.9, "hello": 0.1}),
            ("a dog", "4", {"maybe": 1.0}),  # no 0-10 alternative: text value
        ]
    )
    parsed = parse_simulation_reply(reply, ["a red car", "a cat", "a dog"])
    assert parsed.predictions == [pytest.approx(9.0), pytest.approx(1.0), 4.0]
    assert (parsed.from_logprobs, parsed.from_text) == (2, 1)


def test_a_value_split_over_tokens_and_logprobs_that_do_not_spell_the_text_use_the_text():
    split = ChatReply(
        "a car\t10\n",
        [TokenLogprob("a car", 0), TokenLogprob("\t", 0), TokenLogprob("1", 0, {"1": 0.0}), TokenLogprob("0", 0), TokenLogprob("\n", 0)],
    )
    assert parse_simulation_reply(split, ["a car"]).predictions == [10.0]
    mismatched = ChatReply("a car\t6", [TokenLogprob("other", 0, {"2": 0.0})])
    parsed = parse_simulation_reply(mismatched, ["a car"])
    assert parsed.predictions == [6.0] and parsed.from_text == 1


def test_pass_score_is_100_times_pearson_and_constant_predictions_score_zero_with_a_flag():
    parsed = ParsedReply(predictions=[1.0, 2.0, 3.0, None])
    assert score_pass([2, 4, 6, 100], parsed) == (pytest.approx(100.0), "")
    assert score_pass([1, 2, 3], ParsedReply(predictions=[5.0, 5.0, 5.0])) == (0.0, "constant prediction")
    assert score_pass([1, 1, 1], ParsedReply(predictions=[1.0, 2.0, 3.0])) == (None, "true values are constant")
