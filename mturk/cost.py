"""What a crowd study costs, whatever the provider: plain values on Decimals, no Django, no network."""
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def cents(amount):
    """Rounded half up to the cent, as the providers bill."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


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
        return cents(self.total / (Decimal(self.assignments) * Decimal(str(self.valid_rate))))

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
