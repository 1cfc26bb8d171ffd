/**
 * Every ```ts / ```typescript code sample in README.md, README.zh-CN.md and wiki/*.md is type-checked against the
 * sources, with `wechat-jssdk-ts` (and its sub-entries) resolved to lib/ through the tsup entries. A sample that
 * is deliberately partial can opt out with ```ts nocheck.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(__dirname, '../..');

function docFiles(): string[] {
  const files = ['README.md', 'README.zh-CN.md'].map((f) => path.join(root, f));
  const wiki = path.join(root, 'wiki');
  if (existsSync(wiki)) for (const f of readdirSync(wiki)) if (f.endsWith('.md')) files.push(path.join(wiki, f));
  return files.filter((f) => existsSync(f));
}

interface Sample {
  file: string;
  line: number;
  code: string;
}

export function extractSamples(file: string): Sample[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const samples: Sample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```(ts|typescript)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end])) end++;
    samples.push({ file, line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return samples;
}

/** `wechat-jssdk-ts[/sub]` → source file, from the build's entry points. */
function entryPaths(): Record<string, string[]> {
  const config = require('../../tsup.config').default;
  const paths: Record<string, string[]> = {};
  for (const build of Array.isArray(config) ? config : [config]) {
    for (const [name, source] of Object.entries(build.entry as Record<string, string>)) {
      if (name === 'cli') continue;
      const sub = name.replace(/\/index$/, '');
      paths[sub === 'index' ? 'wechat-jssdk-ts' : `wechat-jssdk-ts/${sub}`] = [path.join(root, source)];
    }
  }
  return paths;
}

const samples = docFiles().flatMap(extractSamples);

describe('documentation code samples', () => {
  test('there are samples to check', () => {
    expect(samples.length).toBeGreaterThan(0);
  });

  test('every sample type-checks against the sources', () => {
    const host = ts.createCompilerHost({});
    const virtual = new Map<string, string>();
    samples.forEach((s, i) => {
      // Each sample is its own module, so top-level await and repeated names are fine.
      virtual.set(path.join(root, `__doc_sample_${i}.ts`), `${s.code}\nexport {};\n`);
    });
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      strict: true,
      noEmit: true,
      esModuleInterop: true,
      skipLibCheck: true,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      types: ['node'],
      baseUrl: root,
      paths: entryPaths(),
      noUnusedLocals: false,
    };
    const readFile = host.readFile.bind(host);
    const fileExists = host.fileExists.bind(host);
    host.readFile = (f) => virtual.get(path.resolve(f)) ?? readFile(f);
    host.fileExists = (f) => virtual.has(path.resolve(f)) || fileExists(f);
    const program = ts.createProgram([...virtual.keys()], options, host);
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && virtual.has(path.resolve(d.file.fileName)))
      .map((d) => {
        const index = Number(/__doc_sample_(\d+)/.exec(d.file!.fileName)![1]);
        const sample = samples[index];
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        return `${path.relative(root, sample.file)}:${sample.line + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    expect(problems).toEqual([]);
  });
});
