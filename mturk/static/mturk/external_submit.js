// The answer is stored: hand the HIT back to MTurk at once (the button is there for browsers without scripts).
document.getElementById("external-submit").submit();
