// The page's messages in the person's language: look-up, placeholders, plurals.
// Catalogs are flat: a plural message has one key per CLDR category
// ("files.chosen.one", "files.chosen.few", ...), and Intl.PluralRules picks
// the one the page's language uses for a number ("other" when it has no own).
const catalog = JSON.parse(document.getElementById("messages").textContent);
const language = document.documentElement.lang || "en";
const rules = new Intl.PluralRules(language);
const numbers = new Intl.NumberFormat(language);

/** A message with its {placeholders} filled in. */
export function t(key, values = {}) {
  const text = catalog[key] ?? key;
  return text.replace(/\{([a-z_]+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** The plural form of `key` for `count`, with {count} written the language's way. */
export function plural(key, count, values = {}) {
  const exact = `${key}.${rules.select(count)}`;
  return t(exact in catalog ? exact : `${key}.other`, { ...values, count: numbers.format(count) });
}
