/**
 * Reads a Dockerfile's final stage: what the Docker-free image build (scripts/image/) must reproduce.
 * Enough of the syntax for ours: line continuations, comments, ARG before FROM, the exec (JSON) forms of
 * ENTRYPOINT and CMD, ENV key=value, COPY [--from=stage] src... dest, and `apt-get install` in RUN.
 */
export interface DockerfileStage {
  from: string;
  args: Record<string, string>;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
  copies: { from?: string; sources: string[]; dest: string }[];
  aptPackages: string[];
}

interface Instruction {
  keyword: string;
  rest: string;
}

function instructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), rest: rest.join(' ') };
    });
}

const expand = (value: string, args: Record<string, string>) =>
  value.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (_, a: string | undefined, b: string | undefined) => args[a ?? b ?? ''] ?? '',
  );

export function finalStage(text: string): DockerfileStage {
  const all = instructions(text);
  const args: Record<string, string> = {};
  for (const { keyword, rest } of all) {
    if (keyword === 'FROM') break;
    if (keyword === 'ARG') {
      const [name, value = ''] = rest.split('=');
      args[name!] = value;
    }
  }
  const lastFrom = all.map((i) => i.keyword).lastIndexOf('FROM');
  const stage: DockerfileStage = {
    from: expand(all[lastFrom]!.rest.split(/\s+/)[0]!, args),
    args,
    workdir: '/',
    env: {},
    copies: [],
    aptPackages: [],
  };
  for (const { keyword, rest } of all.slice(lastFrom + 1)) {
    switch (keyword) {
      case 'WORKDIR':
        stage.workdir = rest.startsWith('/') ? rest : `${stage.workdir.replace(/\/$/, '')}/${rest}`;
        break;
      case 'ENV':
        for (const pair of rest.split(/\s+/)) {
          const [key, ...value] = pair.split('=');
          stage.env[key!] = value.join('=');
        }
        break;
      case 'USER':
        stage.user = rest;
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = JSON.parse(rest) as string[];
        break;
      case 'CMD':
        stage.cmd = JSON.parse(rest) as string[];
        break;
      case 'COPY': {
        const words = rest.split(/\s+/);
        const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
        const paths = words.filter((w) => !w.startsWith('--'));
        const dest = paths.pop()!;
        stage.copies.push({ ...(from ? { from } : {}), sources: paths, dest });
        break;
      }
      case 'RUN':
        for (const match of rest.matchAll(/apt-get install ([^&|;]+)/g)) {
          stage.aptPackages.push(
            ...match[1]!
              .trim()
              .split(/\s+/)
              .filter((w) => !w.startsWith('-')),
          );
        }
        break;
    }
  }
  return stage;
}

/** Where a COPY puts a source inside the image (dest relative to WORKDIR; a directory dest keeps the name). */
export function copyTarget(stage: DockerfileStage, source: string, dest: string): string {
  const absolute = dest.startsWith('/') ? dest : `${stage.workdir.replace(/\/$/, '')}/${dest}`;
  const normal = absolute.replace(/\/\.\/?$/, '/').replace(/\/\.\//g, '/');
  if (normal.endsWith('/')) return `${normal}${source.replace(/\/$/, '').split('/').pop()}`;
  return normal;
}
