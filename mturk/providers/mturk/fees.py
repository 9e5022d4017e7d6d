"""MTurk's fees. Plain functions on Decimals: no Django, no network."""
from decimal import Decimal

from ...cost import CostEstimate, cents

# MTurk pricing (https://requester.mturk.com/pricing, "Amazon Mechanical Turk Fees"): a 20% fee on
# the reward and on any bonus paid to Workers; HITs with 10 or more assignments pay an additional
# 20% on the reward (not on bonuses); the fee is at least $0.01 per assignment or bonus payment.
# The fee is charged per approved assignment and rounded half up to the cent ("$0.105 is rounded
# to $0.11"), so a $0.08 reward pays round(0.016) = $0.02, not $0.016.
MTURK_BASE_FEE_RATE = Decimal("0.20")
MTURK_LARGE_HIT_EXTRA_RATE = Decimal("0.20")
MTURK_LARGE_HIT_ASSIGNMENTS = 10
MTURK_MINIMUM_FEE = Decimal("0.01")


def mturk_assignment_fee(reward, assignments_per_hit):
    rate = MTURK_BASE_FEE_RATE
    if assignments_per_hit >= MTURK_LARGE_HIT_ASSIGNMENTS:
        rate += MTURK_LARGE_HIT_EXTRA_RATE
    return max(MTURK_MINIMUM_FEE, cents(Decimal(reward) * rate))


def mturk_bonus_fee(bonus):
    return max(MTURK_MINIMUM_FEE, cents(Decimal(bonus) * MTURK_BASE_FEE_RATE))


def estimate_mturk_cost(neurons, raters_per_neuron, reward, valid_rate=None):
    reward = Decimal(reward)
    assignments = neurons * raters_per_neuron
    fee = mturk_assignment_fee(reward, raters_per_neuron)
    return CostEstimate(
        hits=neurons,
        assignments=assignments,
        reward_per_assignment=reward,
        reward_total=cents(reward * assignments),
        fee_per_assignment=fee,
        fee_total=cents(fee * assignments),
        valid_rate=valid_rate,
    )
