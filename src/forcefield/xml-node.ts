import { UserError } from '../core/errors.js';

/**
 * Helpers over the tree fast-xml-parser builds with attributes unprefixed, every
 * element wrapped in an array, and empty elements given as ''.
 */
export type XmlNode = { [key: string]: unknown };

/** All child elements named `tag` (empty elements as {}). */
export function children(node: XmlNode, tag: string): XmlNode[] {
  const v = node[tag];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new UserError(`<${tag}> is an attribute where an element was expected`);
  return v.map((e) => (typeof e === 'object' && e !== null ? (e as XmlNode) : {}));
}

/** The single child element `tag`, or undefined; more than one is an error. */
export function optionalChild(node: XmlNode, tag: string, where: string): XmlNode | undefined {
  const list = children(node, tag);
  if (list.length > 1) throw new UserError(`${where}: expected at most one <${tag}>, found ${list.length}`);
  return list[0];
}

/** Names of the child elements of a node (attributes excluded). */
export function childTags(node: XmlNode): string[] {
  return Object.keys(node).filter((k) => Array.isArray(node[k]));
}

/** A required string attribute. */
export function attr(node: XmlNode, name: string, where: string): string {
  const v = node[name];
  if (typeof v !== 'string') throw new UserError(`${where}: missing attribute '${name}'`);
  return v;
}

/** A string attribute or a default. */
export function optionalAttr(node: XmlNode, name: string, fallback: string): string {
  const v = node[name];
  return typeof v === 'string' ? v : fallback;
}

/** Parses a finite decimal number written by OpenMM (e.g. ".1522", "-1e-05"). */
export function parseNumber(text: string, what: string): number {
  const v = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(v)) throw new UserError(`${what}: expected a finite number, got '${text}'`);
  return v;
}

/** A required numeric attribute. */
export function numAttr(node: XmlNode, name: string, where: string): number {
  return parseNumber(attr(node, name, where), `${where} attribute '${name}'`);
}

/** A numeric attribute or a default. */
export function optionalNumAttr(node: XmlNode, name: string, where: string, fallback: number): number {
  const v = node[name];
  return typeof v === 'string' ? parseNumber(v, `${where} attribute '${name}'`) : fallback;
}

/** A required integer attribute. */
export function intAttr(node: XmlNode, name: string, where: string): number {
  const v = numAttr(node, name, where);
  if (!Number.isInteger(v)) throw new UserError(`${where}: attribute '${name}' must be an integer, got ${v}`);
  return v;
}

/** Throws when the optional list element `tag` has any children (a feature this engine does not support). */
export function requireEmpty(node: XmlNode, tag: string, where: string, feature: string): void {
  const el = optionalChild(node, tag, where);
  if (el !== undefined && childTags(el).length > 0) throw new UserError(`${where}: ${feature} (<${tag}>) are not supported`);
}
