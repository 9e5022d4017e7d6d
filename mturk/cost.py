"""What a crowd study costs. Plain functions on Decimals: no Django, no network."""
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")

# MTurk pricing (https://requester.mturk.com/pricing, "Amazon Mechanical Turk Fees"): a 20% fee on
# the reward and on any bonus paid to Workers; HITs with 10 or more assignments pay an additional
# 20% on the reward (not on bonuses); the fee is at least $0.01 per assignment or bonus payment.
# The fee is charged per approved assignment and rounded half up to the cent ("$0.105 is rounded
# to $0.11"), so a $0.08 reward pays round(0.016) = $0.02, not $0.016.
MTURK_BASE_FEE_RATE = Decimal("0.20")
MTURK_LARGE_HIT_EXTRA_RATE = Decimal("0.20")
MTURK_LARGE_HIT_ASSIGNMENTS = 10
MTURK_MINIMUM_FEE = Decimal("0.01")


def _cents(amount):
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def mturk_assignment_fee(reward, assignments_per_hit):
    rate = MTURK_BASE_FEE_RATE
    if assignments_per_hit >= MTURK_LARGE_HIT_ASSIGNMENTS:
        rate += MTURK_LARGE_HIT_EXTRA_RATE
    return max(MTURK_MINIMUM_FEE, _cents(Decimal(reward) * rate))


def mturk_bonus_fee(bonus):
    return max(MTURK_MINIMUM_FEE, _cents(Decimal(bonus) * MTURK_BASE_FEE_RATE))


@dataclass(frozen=True)
class CostEstimate:
    hits: int
    assignments: int
    reward_per_assignment: Decimal
    reward_total: Decimal
    fee_per_assignment: Decimal
    fee_total: Decimal
    valid_rate: float | None

    @property
    def total(self):
        return self.reward_total + self.fee_total

    @property
    def cost_per_valid_response(self):
        """Everything paid divided by the responses expected to pass the validity rule."""
        if not self.valid_rate:
            return None
        return _cents(self.total / (Decimal(self.assignments) * Decimal(str(self.valid_rate))))

    def lines(self, currency="$"):
        lines = [
            f"HITs: {self.hits}",
            f"Assignments: {self.assignments}",
            f"Reward per assignment: {currency}{self.reward_per_assignment:.2f}",
            f"Reward total: {currency}{self.reward_total:.2f}",
            f"Fee per assignment: {currency}{self.fee_per_assignment:.2f}",
            f"Fee total: {currency}{self.fee_total:.2f}",
            f"Total: {currency}{self.total:.2f}",
        ]
        if self.valid_rate is None:
            lines.append("Expected cost per valid response: unknown (no responses yet)")
        else:
            lines.append(
                f"Expected cost per valid response: {currency}{self.cost_per_valid_response:.2f} "
                f"(observed valid rate {self.valid_rate:.1%})"
            )
        return lines


def estimate_mturk_cost(neurons, raters_per_neuron, reward, valid_rate=None):
    reward = Decimal(reward)
    assignments = neurons * raters_per_neuron
    fee = mturk_assignment_fee(reward, raters_per_neuron)
    return CostEstimate(
        hits=neurons,
        assignments=assignments,
        reward_per_assignment=reward,
        reward_total=_cents(reward * assignments),
        fee_per_assignment=fee,
        fee_total=_cents(fee * assignments),
        valid_rate=valid_rate,
    )
