/**
 * The YAML side of a scenario file: syntax errors and duplicate keys with their line, and the
 * document position of a field path, so that the first problem in document order is the one shown.
 */
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
} from 'yaml';
import { type PathSegment, ScenarioError, formatPath } from './errors.js';

/** Larger scenario files are refused before parsing (100,000 steps fit in well under this). */
export const MAX_SOURCE_BYTES = 16 * 1024 * 1024;

export interface YamlSource {
  doc: Document.Parsed;
  lines: LineCounter;
  /** the document as plain data (mappings as objects), for schema validation */
  data: unknown;
}

type AnyNode = Node | null | undefined;

function lineOf(lines: LineCounter, offset: number): number {
  return lines.linePos(offset).line;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

/**
 * yaml's own uniqueKeys check reports a duplicate without saying in which mapping; walking the
 * tree ourselves gives the field path of the duplicate and the line of the first occurrence.
 */
function findDuplicateKey(
  node: AnyNode,
  path: PathSegment[],
  file: string,
  lines: LineCounter,
): ScenarioError | undefined {
  if (isMap(node)) {
    const seen = new Map<string, number>();
    for (const pair of node.items) {
      const key = keyText(pair.key);
      const keyNode = pair.key as AnyNode;
      const offset = keyNode?.range?.[0] ?? node.range?.[0] ?? 0;
      if (key === undefined) {
        return new ScenarioError(
          file,
          formatPath(path),
          `keys must be plain strings (line ${lineOf(lines, offset)})`,
          lineOf(lines, offset),
        );
      }
      const first = seen.get(key);
      if (first !== undefined) {
        const line = lineOf(lines, offset);
        return new ScenarioError(
          file,
          formatPath([...path, key]),
          `duplicate key "${key}" at line ${line} (first at line ${lineOf(lines, first)})`,
          line,
        );
      }
      seen.set(key, offset);
      const inner = findDuplicateKey(pair.value as AnyNode, [...path, key], file, lines);
      if (inner) return inner;
    }
  } else if (isSeq(node)) {
    for (let i = 0; i < node.items.length; i++) {
      const inner = findDuplicateKey(node.items[i] as AnyNode, [...path, i], file, lines);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** Parse one YAML document, rejecting syntax errors, several documents and duplicate keys. */
export function readYaml(text: string, file: string): YamlSource {
  if (text.length > MAX_SOURCE_BYTES) {
    throw new ScenarioError(file, '', `file is larger than 16MiB (${text.length} characters)`);
  }
  const lines = new LineCounter();
  // YAML 1.2 core schema: `yes` stays a string, 0x40000000 is an integer, no merge keys.
  const doc = parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: false,
    prettyErrors: false,
    version: '1.2',
  });
  const error = doc.errors[0];
  if (error) {
    const pos = lines.linePos(error.pos[0]);
    const what = error.code === 'MULTIPLE_DOCS' ? 'YAML error' : 'YAML syntax error';
    throw new ScenarioError(
      file,
      '',
      `${what} at line ${pos.line}, column ${pos.col}: ${error.message.split('\n')[0]}`,
      pos.line,
    );
  }
  const duplicate = findDuplicateKey(doc.contents, [], file, lines);
  if (duplicate) throw duplicate;
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw new ScenarioError(file, '', `YAML error: ${(e as Error).message}`);
  }
  return { doc, lines, data };
}

function resolve(doc: Document.Parsed, node: AnyNode): AnyNode {
  if (isAlias(node)) return node.resolve(doc);
  return node;
}

/**
 * Where a field path starts in the source: the key (or list item) it names; for a path that is not
 * in the document (a missing key), the end of the deepest mapping or list that is.
 */
export function positionOf(src: YamlSource, path: readonly PathSegment[]): number {
  let node = resolve(src.doc, src.doc.contents);
  let pos = node?.range?.[0] ?? 0;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
      if (!pair) return node.range?.[1] ?? pos;
      pos = (pair.key as AnyNode)?.range?.[0] ?? pos;
      node = resolve(src.doc, pair.value as AnyNode);
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      node = resolve(src.doc, node.items[seg] as AnyNode);
      pos = node?.range?.[0] ?? pos;
    } else {
      return node?.range?.[1] ?? pos;
    }
  }
  return pos;
}

/** The 1-based line of a field path (see positionOf). */
export function lineOfPath(src: YamlSource, path: readonly PathSegment[]): number {
  return lineOf(src.lines, positionOf(src, path));
}
