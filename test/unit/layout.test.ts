// The tree says who runs what: src/master runs only in the master, src/client only in a
// client, src/common in both. These checks read the sources' import statements, so a module
// put on the wrong side fails here before it ever runs in the wrong process.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Every module specifier a file imports, statically, with import() or with require(). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:\bfrom\s+|\b(?:import|require)\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)) found.push(match[1]!);
  return found;
}

/** The src/ folder ("master", "client", "common" or "." for the top) a relative import lands in. */
function sideOf(fromFile: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const target = path.relative(SRC, path.resolve(path.dirname(fromFile), specifier));
  return target.includes(path.sep) ? target.split(path.sep)[0] : '.';
}

const files = sourceFiles(SRC);
const sideOfFile = (file: string): string => {
  const relative = path.relative(SRC, file);
  return relative.includes(path.sep) ? relative.split(path.sep)[0]! : '.';
};

describe('source layout', () => {
  it('has the three folders and nothing else beside main.ts and cli.ts', () => {
    const top = fs.readdirSync(SRC).sort();
    expect(top).toEqual(['cli.ts', 'client', 'common', 'main.ts', 'master']);
  });

  it.each([
    ['client', 'master'],
    ['master', 'client'],
    ['common', 'master'],
    ['common', 'client'],
  ])('nothing under src/%s imports src/%s', (from, forbidden) => {
    const offenders: string[] = [];
    for (const file of files.filter((candidate) => sideOfFile(candidate) === from)) {
      for (const specifier of importsOf(file)) {
        if (sideOf(file, specifier) === forbidden) offenders.push(`${path.relative(SRC, file)} -> ${specifier}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('only src/master/pty-fork.ts loads node-pty', () => {
    const loaders = files
      .filter((file) => importsOf(file).some((specifier) => specifier === 'node-pty' || specifier.startsWith('node-pty/')))
      .map((file) => path.relative(SRC, file));
    // One module, so that dt's use of node-pty's binding is in one place.
    expect(loaders).toEqual([path.join('master', 'pty-fork.ts')]);
  });

  it("the README's source layout names every module in its folder", () => {
    const readme = fs.readFileSync(path.resolve(SRC, '../README.md'), 'utf8');
    const block = /Source layout[^]*?```\n([^]*?)```/.exec(readme)?.[1] ?? '';
    const missing: string[] = [];
    let folder = '';
    const listed = new Set<string>();
    for (const line of block.split('\n')) {
      const heading = /^src\/(\w+)\//.exec(line);
      if (heading) folder = heading[1]!;
      else if (line.startsWith('src/')) folder = '.';
      for (const name of line.match(/[\w-]+\.ts/g) ?? []) listed.add(path.join(line.startsWith('src/') ? '.' : folder, name));
    }
    for (const file of files) {
      const relative = path.relative(SRC, file);
      if (!listed.has(relative.includes(path.sep) ? relative : path.join('.', relative))) missing.push(relative);
    }
    expect(block).not.toBe('');
    expect(missing).toEqual([]);
  });

  it('the checks see imports at all (a client module importing protocol is found)', () => {
    const attach = files.find((file) => file.endsWith(path.join('client', 'attach.ts')))!;
    expect(importsOf(attach).map((specifier) => sideOf(attach, specifier))).toContain('common');
  });
});
