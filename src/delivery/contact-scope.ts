/**
 * What templates see as `contact`, for every channel: the contact's attributes with its own fields
 * on top, so `{{ contact.city }}` reads an attribute and `{{ contact.firstName }}` the column. A
 * field that is null or missing never hides an attribute of the same name: a contact whose
 * `firstName` column is empty but whose attributes say `firstName: "Fox"` renders "Fox", not "".
 * `contact.attributes` stays available as it is.
 */
export function templateContact(contact: Record<string, unknown>): Record<string, unknown> {
  const { attributes } = contact;
  const own = Object.entries(contact).filter(([, value]) => value !== null && value !== undefined);
  return { ...(isObject(attributes) ? attributes : {}), ...Object.fromEntries(own) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
