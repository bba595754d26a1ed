// Case numbers, checked on this device before any request: the same rules as
// reclaim/registry/identifiers.py (Crockford base-32; o -> 0, i/l -> 1; case,
// spaces and dashes ignored; 8 symbols and a Luhn mod 32 check symbol). A
// one-symbol typo or a swap of neighbours is caught here, so the person is
// told "check this symbol" instead of "no case matches".
export const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ALIASES = { O: "0", I: "1", L: "1" };
const PAYLOAD = 8;

function normalise(text) {
  return Array.from(text.replace(/[\s-]/g, "").toUpperCase(), (c) => ALIASES[c] ?? c).join("");
}

/** The check symbol of a payload (Luhn mod 32, as the registry computes it). */
export function checkSymbol(payload) {
  let total = 0;
  let factor = 2;
  for (let index = payload.length - 1; index >= 0; index -= 1) {
    const addend = factor * ALPHABET.indexOf(payload[index]);
    total += Math.floor(addend / 32) + (addend % 32);
    factor = factor === 2 ? 1 : 2;
  }
  return ALPHABET[(32 - (total % 32)) % 32];
}

/**
 * What is wrong with a typed case number, if anything:
 * {ok: true, number: "XXX-XXX-XXX"}, or {ok: false, reason} with reason
 * "empty" (nothing typed), "form" (not 9 letters and digits of the
 * alphabet) or "typo" (the check symbol does not fit: a symbol is mistyped).
 */
export function checkCaseNumber(text) {
  if (typeof text !== "string" || !text.trim()) return { ok: false, reason: "empty" };
  const cleaned = normalise(text);
  if (text.length > 40 || cleaned.length !== PAYLOAD + 1 || [...cleaned].some((c) => !ALPHABET.includes(c))) {
    return { ok: false, reason: "form" };
  }
  if (checkSymbol(cleaned.slice(0, PAYLOAD)) !== cleaned[PAYLOAD]) return { ok: false, reason: "typo" };
  return { ok: true, number: cleaned.match(/.{3}/g).join("-") };
}
